"""The small architectures at tiny widths (dcgan, sndcgan, infogan, mlp) and the
parameter-count formulas their tests check against, written out here."""

import gin
import numpy as np
import tensorflow as tf

from compare_gan2.architectures import base

NUM_CLASSES = 3
Z_DIM = 6
BATCH = 4
CH = 4
FC = 16  # infogan fc_dim
HIDDEN = 8  # mlp hidden

# name -> (gin module, width bindings, resolutions, colors, bad resolutions)
ARCHS = {
    "dcgan_arch": ("dcgan", {"ch": CH}, (16, 32, 64), 3, (8, 24, 2048)),
    "sndcgan_arch": ("sndcgan", {"ch": CH}, (16, 32, 64), 3, (4, 24)),
    "infogan_arch": ("infogan", {"ch": CH, "fc_dim": FC}, (28, 32), 1, (16, 64)),
    "mlp_arch": ("mlp", {"hidden": HIDDEN}, (1,), 2, (2, 8)),
}



def _bind_widths(name, extra=""):
  module, widths, *_ = ARCHS[name]
  lines = [f"{module}.{net}.{k} = {v}" for net in ("Generator", "Discriminator")
           for k, v in widths.items()]
  gin.parse_config("\n".join(lines) + "\n" + extra)


def _labels(num, cls=None):
  ids = np.arange(num) % NUM_CLASSES if cls is None else np.full(num, cls)
  return tf.one_hot(ids, NUM_CLASSES)


def _count(model):
  return int(sum(np.prod(v.shape) for v in model.trainable_variables))


def _conv(k, c_in, c_out):
  return k * k * c_in * c_out + c_out


def _dense(n_in, n_out, bias=True):
  return n_in * n_out + (n_out if bias else 0)


def _norm(c, kind, num_classes=0):
  """Trainable parameters of a normalization of c channels."""
  return {None: 0, "batch_norm": 2 * c,
          "conditional_batch_norm": 2 * num_classes * c}[kind]


def _head(features, num_classes):
  return _dense(features, 1) + num_classes * features


NORM_CASES = [(None, 0), ("batch_norm", 0), ("conditional_batch_norm", NUM_CLASSES)]


def _build_counted(name, res, g_norm, num_classes, d_norm=None, colors=None):
  extra = ""
  if g_norm:
    extra += f"G.batch_norm_fn = @{g_norm}\n"
  if d_norm:
    extra += f"D.batch_norm_fn = @{d_norm}\n"
  _bind_widths(name, extra)
  return base.build(name, resolution=res, colors=colors or ARCHS[name][3],
                    z_dim=Z_DIM, num_classes=num_classes)
