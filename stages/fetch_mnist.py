"""fetch_mnist: the data set named by `data.source`, checked, as data/raw/mnist.npz, with
the route it came by and the sha256 of its arrays."""

from mnist_transfer.pipeline import atomic, params, paths
from mnist_transfer.pipeline.errors import run_stage
from mnist_transfer.sources import mnist


def main() -> None:
    source = params.load("fetch_mnist")["data"]["source"]
    arrays, route = mnist.load(source)
    sha256 = mnist.arrays_sha256(arrays)
    atomic.write_npz(paths.RAW, arrays)
    atomic.write_json(paths.RAW_PROVENANCE, {"source": source, "route": route, "sha256": sha256})
    sizes = ", ".join(f"{key} {arrays[key].shape}" for key in mnist.KEYS)
    print(f"fetch_mnist: {source} by {route}: {sizes}; sha256 {sha256[:12]}")


if __name__ == "__main__":
    run_stage(main)
