"""Configurations the studies and the benchmark share, by the -S settings that make them."""

# "Beyond the blog"'s best frozen configuration (docs/beyond-the-blog.md): the layers-and-heads
# study's winner on MNIST's validation split (a test holds the two together).
BEST_FROZEN = ("backbone.preprocess=caffe", "backbone.layer=block3_pool", "head.normalize=true", "head.epochs=10")
# The frozen configuration the elsewhere study and the views benchmark were measured at
# (docs/elsewhere.md): the layers-and-heads winner of its day, among 5 of the 12 configurations.
# Run in full, that study chose block3_pool (BEST_FROZEN); these have not been measured there.
ELSEWHERE_FROZEN = ("backbone.preprocess=caffe", "backbone.layer=block4_pool", "head.normalize=true", "head.epochs=10")
