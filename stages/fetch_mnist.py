"""fetch_mnist: the data set named by `data.source`, checked, as data/raw/mnist.npz, with
the route it came by and the sha256 of its arrays; and the digits from elsewhere named by
`data.elsewhere`, framed as MNIST's (their strokes and slant as `data.strokes` and
`data.deslant` say), as data/raw/elsewhere.npz, with theirs."""

from mnist_transfer.core import atomic, catalog, params, paths
from mnist_transfer.core.errors import run_stage
from mnist_transfer.data import elsewhere, mnist


def main() -> None:
    data = params.load("fetch_mnist")["data"]
    source, other = data["source"], data["elsewhere"]
    arrays, route = mnist.load(source)
    if source != "mnist" and other != catalog.NO_ELSEWHERE:
        # Fashion-MNIST, say, scored on handwritten digits would be a number without meaning.
        mnist.check_all_mnist(
            arrays, source, f"data.elsewhere {other} scores models of digits; set data.elsewhere: none for this source"
        )
    x_other, y_other, names, other_record = elsewhere.load(other, data["strokes"], data["deslant"])
    sha256 = mnist.arrays_sha256(arrays)
    atomic.write_npz(paths.RAW, arrays)
    atomic.write_npz(paths.RAW_ELSEWHERE, {"x": x_other, "y": y_other, "names": names})
    atomic.write_json(
        paths.RAW_PROVENANCE, {"source": source, "route": route, "sha256": sha256, "elsewhere": other_record}
    )
    sizes = ", ".join(f"{key} {arrays[key].shape}" for key in mnist.KEYS)
    print(f"fetch_mnist: {source} by {route}: {sizes}; sha256 {sha256[:12]}")
    if len(x_other):
        labelled = "labelled" if len(y_other) else "without labels"
        print(f"fetch_mnist: {len(x_other)} digits from elsewhere ({other}, {labelled}) by {other_record['route']}")


if __name__ == "__main__":
    run_stage(main)
