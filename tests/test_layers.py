"""sdl_stn's SpatialTransformer (papers/sdl_stn/model.py): identity at initialisation, gradients reach the
localisation net, and a model holding it survives .keras save/load."""
import keras
import numpy as np
import tensorflow as tf

from papers.sdl_stn.model import SpatialTransformer, affine_grid, bilinear_sample


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    image = keras.Input((12, 12, 2))
    moved = SpatialTransformer(filters=(3, 3, 3), units=4, name="stn")(image)
    return keras.Model(image, keras.layers.Dense(3)(keras.layers.Flatten()(moved)))


def images(n=2, seed=0):
    return np.random.default_rng(seed).random((n, 12, 12, 2), dtype=np.float32)


def test_identity_initialisation_reproduces_the_input():
    x = images()
    out = SpatialTransformer(filters=(3, 3, 3), units=4)(x)
    np.testing.assert_allclose(np.asarray(out), x, atol=1e-5)


def test_sampler_moves_the_image_as_the_affine_transform_says():
    x = images(1)
    shift_one_pixel = np.array([[1, 0, 2 / 11, 0, 1, 0]], np.float32)  # +1 pixel in x on a 12-wide grid
    gx, gy = affine_grid(shift_one_pixel, 12, 12)
    out = np.asarray(bilinear_sample(x, (gx + 1) * 11 / 2, (gy + 1) * 11 / 2)).reshape(x.shape)
    np.testing.assert_allclose(out[:, :, :-1], x[:, :, 1:], atol=1e-5)
    np.testing.assert_allclose(out[:, :, -1], 0.0, atol=1e-6)  # outside the image contributes zero


def localisation_gradients(model, x):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) * tf.constant([1.0, -2.0, 3.0]))
    stn = model.get_layer("stn")
    return {w.path: float(tf.reduce_sum(tf.abs(g))) for w, g in zip(stn.trainable_weights,
                                                                     tape.gradient(loss, stn.trainable_weights))}


def test_gradients_reach_the_localisation_weights():
    model, x = tiny_model(), images()
    grads = localisation_gradients(model, x)
    assert grads["stn/loc_theta/kernel"] > 0 and grads["stn/loc_theta/bias"] > 0
    # once theta depends on the input, the gradient flows on into the localisation convolutions
    stn = model.get_layer("stn")
    stn.theta.kernel.assign(np.random.default_rng(1).normal(0, 0.1, stn.theta.kernel.shape))
    grads = localisation_gradients(model, x)
    assert all(value > 0 for path, value in grads.items() if path.endswith("kernel")), grads


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    model, x = tiny_model(), images()
    model.get_layer("stn").theta.bias.assign([0.9, 0.1, 0.05, -0.1, 0.8, 0.0])
    model.save(tmp_path / "stn.keras")
    loaded = keras.saving.load_model(tmp_path / "stn.keras")
    assert isinstance(loaded.get_layer("stn"), SpatialTransformer)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
