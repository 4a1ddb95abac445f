"""Training: `fit` (Keras fit with a checkpoint of the whole training state, seeds, prediction) and the replica
engine (a paper's `ReplicaRecipe`, trained fold by fold on TensorFlow or every fold at once on JAX)."""
