"""Configurations the studies and the benchmark share, by the -S settings that make them."""

# "Beyond the blog"'s best frozen configuration (docs/beyond-the-blog.md): the layers-and-heads
# study's winner on MNIST's validation split (a test holds the two together).
BEST_FROZEN = ("backbone.preprocess=caffe", "backbone.layer=block4_pool", "head.normalize=true", "head.epochs=10")
