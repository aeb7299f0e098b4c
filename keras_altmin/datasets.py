"""Data sets of the paper's experiments, as NumPy arrays.

`"digits"` is scikit-learn's 8x8 digits, shipped with scikit-learn, so it
works offline and is the default of every example. The others come through
tensorflow-datasets, which downloads them once into `data_dir`. `"higgs"`
(11 million rows) is never loaded whole: its training split is a `tf.data`
stream read from disk.

Example:

>>> from keras_altmin import datasets
>>> data = datasets.load("digits", validation_size=0.2)
>>> data.train[0].shape, data.num_classes
((1149, 64), 10)
"""

import dataclasses

import numpy as np

TFDS_NAMES = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10"}
NAMES = ("digits",) + tuple(TFDS_NAMES)
HIGGS_FEATURES = 28
HIGGS_TEST_ROWS = 500_000


@dataclasses.dataclass
class Splits:
    """Arrays of one data set: `train`, `validation` (or None) and `test`
    are `(x, y)` pairs; `y` holds integer class labels. (HIGGS: `train` is
    a `tf.data.Dataset` of unbatched `(x, y)` pairs; see `higgs`.)"""

    train: tuple
    validation: tuple
    test: tuple
    num_classes: int
    image_shape: tuple


def load(
    name="digits",
    flatten=True,
    validation_size=None,
    data_dir=None,
    download=True,
    seed=0,
    image_size=None,
):
    """Loads a data set with pixels scaled to [0, 1].

    Args:
        name: one of `"digits"`, `"mnist"`, `"fashion_mnist"`, `"cifar10"`.
        flatten: return rows of features (`(n, h*w*c)`) instead of images
            (`(n, h, w, c)`).
        validation_size: hold out this many training samples (an int) or
            this fraction of them (a float in (0, 1)) as the validation
            split; the last ones of the training set, as the paper's MNIST
            50,000/10,000 split. None: no validation split.
        data_dir: tensorflow-datasets directory (its default when None).
        download: let tensorflow-datasets download a missing data set.
        seed: shuffles digits before its fixed 80/20 train/test split.
        image_size: `(height, width)` to resize the images to (bilinear,
            `keras.ops.image.resize`), e.g. digits to MNIST's (28, 28).

    Returns:
        A `Splits`.

    Raises:
        ValueError: for an unknown name or a bad `validation_size`.
        RuntimeError: when tensorflow-datasets cannot provide the data (no
            network, say), with what to do about it.
    """
    if name == "digits":
        (x_train, y_train), (x_test, y_test) = _digits(seed)
    elif name in TFDS_NAMES:
        (x_train, y_train), (x_test, y_test) = _tfds(name, data_dir, download)
    elif name == "higgs":
        raise ValueError(
            "datasets.load: HIGGS has 11 million rows; use datasets.higgs(), "
            "which streams its training split with tf.data."
        )
    else:
        raise ValueError(f"datasets.load: unknown data set {name!r}; known: {NAMES}.")
    if image_size is not None:
        x_train, x_test = (_resize(x, image_size) for x in (x_train, x_test))
    image_shape = tuple(x_train.shape[1:])
    x_train, x_test = (_prepare(x, flatten) for x in (x_train, x_test))
    validation = None
    if validation_size is not None:
        held_out = _count(validation_size, len(x_train))
        validation = (x_train[-held_out:], y_train[-held_out:])
        x_train, y_train = x_train[:-held_out], y_train[:-held_out]
    return Splits(
        train=(x_train, y_train),
        validation=validation,
        test=(x_test, y_test),
        num_classes=int(max(y_train.max(), y_test.max()) + 1),
        image_shape=image_shape,
    )


def higgs(test_rows=HIGGS_TEST_ROWS, data_dir=None, download=True, validation_rows=0):
    """HIGGS (Baldi et al. 2014) through tensorflow-datasets, streamed.

    The paper's split: the last `test_rows` rows (500,000) are the test set,
    read into arrays; the rows before them are the training set, returned as
    a `tf.data.Dataset` of `(features, label)` pairs (28 float32 features, an
    int32 label) read from disk as it is iterated, never whole in memory.
    With `validation_rows`, that many rows just before the test rows are held
    out of training as a validation set (arrays), for hyperparameter searches.

    Example:

    ```python
    data = datasets.higgs(test_rows=100_000, data_dir="~/tensorflow_datasets")
    model.fit(data.train.batch(200), steps_per_epoch=1000, epochs=1)
    ```

    Returns:
        A `Splits` (`validation` is None without `validation_rows`,
        `num_classes` 2).

    Raises:
        RuntimeError: when tensorflow-datasets cannot provide the data, with
            what to do about it.
    """
    import tensorflow as tf

    for name, value, least in (("test_rows", test_rows, 1),
                               ("validation_rows", validation_rows, 0)):
        if not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(
                f"datasets.higgs: {name} must be an int >= {least}, got {value!r}."
            )
    held_out = test_rows + validation_rows
    splits = [f"train[:-{held_out}]", f"train[-{test_rows}:]"]
    if validation_rows:
        splits.append(f"train[-{held_out}:-{test_rows}]")
    loaded = _tfds_load("higgs", splits, data_dir, download, as_supervised=False)

    def to_pair(row):
        features = tf.stack(
            [tf.cast(row[name], tf.float32) for name in _higgs_feature_names(row)]
        )
        # class_label is stored as a float 0.0 / 1.0
        return features, tf.cast(row["class_label"] >= 0.5, tf.int32)

    def read(split, rows):
        return _to_arrays(split.map(to_pair).take(rows), batch=65536)

    return Splits(
        train=loaded[0].map(to_pair, num_parallel_calls=tf.data.AUTOTUNE),
        validation=read(loaded[2], validation_rows) if validation_rows else None,
        test=read(loaded[1], test_rows),
        num_classes=2,
        image_shape=(HIGGS_FEATURES,),
    )


def _higgs_feature_names(row):
    names = [name for name in row if name != "class_label"]
    if len(names) != HIGGS_FEATURES:
        raise ValueError(
            f"datasets.higgs: expected {HIGGS_FEATURES} features beside "
            f"class_label, got {len(names)}: {names}."
        )
    return names


def _digits(seed):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None] * 255.0
    labels = digits.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order], labels[order]
    cut = int(round(0.8 * len(labels)))
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def _tfds(name, data_dir, download):
    train, test = _tfds_load(
        TFDS_NAMES[name], ["train", "test"], data_dir, download, as_supervised=True
    )
    return tuple(_to_arrays(split) for split in (train, test))


def _tfds_load(name, splits, data_dir, download, as_supervised):
    import tensorflow_datasets as tfds

    try:
        return tfds.load(
            name,
            split=splits,
            as_supervised=as_supervised,
            data_dir=data_dir,
            download=download,
        )
    except Exception as error:  # tfds raises many kinds for a failed fetch.
        raise RuntimeError(
            f"keras_altmin.datasets: tensorflow-datasets could not provide {name!r} "
            f"({type(error).__name__}: {error}). If this machine cannot reach "
            "the data set's host, prepare it on one that can (python -c "
            f"\"import tensorflow_datasets as tfds; tfds.load('{name}', "
            "data_dir='DIR')\"), copy DIR here and pass data_dir='DIR' "
            "(examples: --data-dir DIR)."
        ) from error


def _to_arrays(split, batch=4096):
    import tensorflow_datasets as tfds

    images, labels = [], []
    for x, y in tfds.as_numpy(split.batch(batch)):
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels).astype("int32")


def _resize(images, size):
    from keras import ops

    if len(size) != 2:
        raise ValueError(
            f"datasets.load: image_size must be (height, width), got {size!r}."
        )
    resized = ops.image.resize(
        np.asarray(images, dtype="float32"), tuple(size), interpolation="bilinear"
    )
    # bilinear weights can overshoot the pixel range by a rounding error
    return np.clip(ops.convert_to_numpy(resized), 0.0, 255.0)


def _prepare(x, flatten):
    x = np.asarray(x, dtype="float32") / 255.0
    return x.reshape(len(x), -1) if flatten else x


def _count(size, total):
    if isinstance(size, float) and 0 < size < 1:
        return max(1, int(round(size * total)))
    if isinstance(size, (int, np.integer)) and 0 < size < total:
        return int(size)
    raise ValueError(
        "datasets.load: validation_size must be an int in (0, "
        f"{total}) or a float in (0, 1); got {size!r}."
    )
