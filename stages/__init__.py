"""The pipeline, one module per stage, each run as `python -m stages.<name>`; the code
they share lives in the `mnist_transfer` package."""
