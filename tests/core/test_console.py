"""Console output: errors collapsed to one line."""

from compare_gan2.core import console


def test_one_line_collapses_gin_and_tf_messages():
  text = ("`options.batch_size` must be a positive integer. Received: batch_size=-1\n"
          "  In call to configurable 'options' (<function options at 0x7f>)\n"
          '  In file "/a/b.gin", line 3\n    options.batch_size = -1')
  assert console.one_line(text) == (
      "`options.batch_size` must be a positive integer. Received: batch_size=-1 (in "
      "configurable 'options') (in /a/b.gin, line 3: options.batch_size = -1)")
