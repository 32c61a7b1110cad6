"""Augmentations of what D sees (layer 2): DiffAugment (`diffaugment`) and
ADA's pipeline (`ada`); the GAN side of ADA (the p controller) is
`compare_gan2.gans.adaptive`."""
