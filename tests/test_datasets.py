import numpy as np
import pytest

from keras_altmin import datasets


def test_digits_offline_splits():
    data = datasets.load("digits", validation_size=0.2)
    assert data.train[0].shape[1] == 64 and data.num_classes == 10
    total = sum(len(split[0]) for split in (data.train, data.validation, data.test))
    assert total == 1797
    assert 0.0 <= data.train[0].min() and data.train[0].max() <= 1.0
    images = datasets.load("digits", flatten=False)
    assert images.train[0].shape[1:] == (8, 8, 1)


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_loader_with_mock_data(name, shape):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=30):
        data = datasets.load(name, validation_size=10)
    assert data.train[0].shape == (20, int(np.prod(shape)))
    assert data.validation[0].shape == (10, int(np.prod(shape)))
    assert data.image_shape == shape
    assert data.train[1].dtype == np.int32
    assert data.train[0].max() <= 1.0


def test_missing_data_raises_helpful_error(tmp_path):
    with pytest.raises(RuntimeError, match="data_dir"):
        datasets.load("fashion_mnist", data_dir=str(tmp_path), download=False)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown data set"):
        datasets.load("imagenet")
    with pytest.raises(ValueError, match="validation_size"):
        datasets.load("digits", validation_size=5000)


def test_higgs_streams_train_and_reads_the_last_rows_as_test():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=50):
        data = datasets.higgs(test_rows=30)
    x, y = data.test
    assert x.shape == (30, datasets.HIGGS_FEATURES) and x.dtype == np.float32
    assert set(np.unique(y)) <= {0, 1} and data.num_classes == 2
    import tensorflow as tf

    assert isinstance(data.train, tf.data.Dataset)
    features, label = next(iter(data.train.batch(8)))
    assert tuple(features.shape) == (8, datasets.HIGGS_FEATURES) and label.dtype == tf.int32
    with pytest.raises(ValueError, match="streams"):
        datasets.load("higgs")


def test_higgs_holds_validation_rows_out_of_training(monkeypatch):
    # tfds's mock data ignores slices, so a fake HIGGS of 50 numbered rows
    # checks which rows land where.
    tf = pytest.importorskip("tensorflow")
    import re

    rows = np.arange(50, dtype="float32")

    def fake_load(name, splits, data_dir, download, as_supervised):
        loaded = []
        for split in splits:
            start, stop = re.fullmatch(r"train\[(-?\d*):(-?\d*)\]", split).groups()
            chosen = rows[slice(int(start) if start else None, int(stop) if stop else None)]
            features = {f"feature_{i}": chosen for i in range(datasets.HIGGS_FEATURES)}
            features["class_label"] = chosen % 2
            loaded.append(tf.data.Dataset.from_tensor_slices(features))
        return loaded

    monkeypatch.setattr(datasets, "_tfds_load", fake_load)
    data = datasets.higgs(test_rows=10, validation_rows=15)
    train = np.concatenate([x[:, 0] for x, _ in data.train.batch(100).as_numpy_iterator()])
    np.testing.assert_array_equal(train, rows[:25])
    np.testing.assert_array_equal(data.validation[0][:, 0], rows[25:40])
    np.testing.assert_array_equal(data.test[0][:, 0], rows[40:])
    np.testing.assert_array_equal(data.validation[1], rows[25:40] % 2)
    assert datasets.higgs(test_rows=10).validation is None
    with pytest.raises(ValueError, match="validation_rows"):
        datasets.higgs(test_rows=10, validation_rows=-1)
