"""Code every paper shares: Keras layers, tf.data pipelines, training, faces, metrics, reports,
the audit and the command line. It imports `datasets`, never `papers`."""
