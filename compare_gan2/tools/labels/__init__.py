"""Label inference (a tool above the runner): rotation pretraining
(`pretrain`) and labels from its features (`infer`: k-means, semi-supervised).
The label sources a run trains with are data: `compare_gan2.data.labels`."""
