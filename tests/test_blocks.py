import keras
import pytest

import keras_altmin as ka
from keras_altmin import blocks


def test_dense_with_activation_is_split_and_batchnorm_joins_linear_part():
    dense1 = keras.layers.Dense(4, use_bias=False)
    bn = keras.layers.BatchNormalization()
    relu = keras.layers.ReLU()
    dense2 = keras.layers.Dense(4, activation="tanh")
    drop = keras.layers.Dropout(0.1)
    out = keras.layers.Dense(3, activation="softmax")
    plan = blocks.cut([keras.layers.Flatten(), dense1, bn, relu, dense2, drop, out])
    assert len(plan.blocks) == 2
    assert plan.blocks[0].linear.layers == [dense1, bn]
    assert plan.blocks[0].nonlinear.layers == [relu]
    assert plan.blocks[1].linear.layers == [dense2]
    # the activation of dense2 opens the nonlinear part, before the dropout
    assert plan.blocks[1].nonlinear.steps[0] is dense2.activation
    assert plan.blocks[1].nonlinear.layers == [drop]
    assert plan.output.layers == [out]
    assert len(plan.input_part.layers) == 1


def test_only_output_block_has_no_codes():
    plan = blocks.cut([keras.layers.Dense(3)])
    assert plan.blocks == [] and len(plan.output.layers) == 1


@pytest.mark.parametrize(
    "layer",
    [keras.layers.LayerNormalization(), keras.layers.PReLU(), keras.layers.Embedding(5, 2)],
)
def test_unsupported_layer_is_named(layer):
    with pytest.raises(ValueError, match=layer.name) as info:
        blocks.cut([keras.layers.Dense(4), layer, keras.layers.Dense(2)])
    assert "supports" in str(info.value)


def test_batchnorm_after_activation_is_rejected():
    bn = keras.layers.BatchNormalization(name="late_bn")
    with pytest.raises(ValueError, match="late_bn.*directly after a linear layer"):
        blocks.cut([keras.layers.Dense(4, activation="relu"), bn, keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="late_bn"):
        blocks.cut([keras.layers.Dense(4), keras.layers.ReLU(), bn, keras.layers.Dense(2)])


def test_stack_without_linear_layer_is_rejected():
    with pytest.raises(ValueError, match="at least one linear layer"):
        blocks.cut([keras.layers.ReLU()])


def test_model_construction_error_names_layer_at_compile():
    model = ka.AltMinModel([
        keras.Input((4,)), keras.layers.Dense(3),
        keras.layers.LayerNormalization(name="ln"), keras.layers.Dense(2),
    ])
    with pytest.raises(ValueError, match="'ln'"):
        model.compile(optimizer="adam", loss="mse")


def test_layer_regularizers_are_rejected():
    model = ka.AltMinModel([
        keras.Input((4,)),
        keras.layers.Dense(3, kernel_regularizer="l2", name="reg"),
        keras.layers.Dense(2),
    ])
    with pytest.raises(ValueError, match="'reg' has a kernel_regularizer"):
        model.compile(optimizer="adam", loss="mse")


@pytest.mark.parametrize("layers,shape", [
    ([keras.layers.Dense(5, activation="relu"), keras.layers.Dense(4, activation="softmax")],
     (3, 6)),
    ([keras.layers.Conv2D(3, 3, padding="same", activation="tanh"),
      keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(2)], (2, 6, 6, 1)),
    ([keras.layers.Conv1D(2, 3, strides=2, data_format="channels_first"),
      keras.layers.ReLU(max_value=0.5), keras.layers.Flatten(), keras.layers.Dense(2)],
     (2, 4, 9)),
    ([keras.layers.Dense(5, use_bias=False), keras.layers.BatchNormalization(),
      keras.layers.ReLU(), keras.layers.Dense(2)], (3, 6)),
])
def test_parts_compute_what_the_layers_compute(layers, shape):
    # Parts of plain layers skip Layer.__call__; the forward pass must not notice.
    import numpy as np

    sequential = keras.Sequential([keras.Input(shape[1:]), *layers])
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    expected = keras.ops.convert_to_numpy(sequential(x, training=False))
    # other weights than the variables hold: the parts read `values`
    values = {id(v): keras.ops.convert_to_tensor(v) * 0.5 for v in sequential.variables}
    moved = keras.ops.convert_to_numpy(sequential(x, training=False))
    plan = blocks.cut(sequential.layers)
    a = plan.input_part(x, values, training=False)
    for block in plan.blocks:
        a = block.nonlinear(block.linear(a, values, training=False), values, training=False)
    got = keras.ops.convert_to_numpy(plan.output(a, values, training=False))
    for v in sequential.variables:
        v.assign(keras.ops.convert_to_tensor(v) * 0.5)
    np.testing.assert_allclose(moved, expected)
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(sequential(x, training=False)),
                               rtol=1e-5, atol=1e-6)
