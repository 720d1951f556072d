"""A sweep split across machines with DVC's own sharing: three clones stand for three
machines, a bare repository for the shared Git remote, and a real sshd on 127.0.0.1 for
the DVC remote. Two clones each sweep their share of the seeds and push their
experiments; the third pulls them all and summarises every seed."""

import getpass
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import commit_all, dvc, git, run, stages_run, system_file

SSHD = Path("/usr/sbin/sshd")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def ssh_server(tmp_path) -> Iterator[dict[str, str]]:
    """sshd on 127.0.0.1 with keys made here, letting in this user by key only; what a DVC
    remote needs to reach it."""
    sshd = system_file(SSHD, "openssh-server")
    folder = tmp_path / "ssh"
    folder.mkdir(mode=0o700)
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], check=True)
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    os.chmod(folder / "authorized_keys", 0o600)
    port = free_port()
    (folder / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {folder / 'host_key'}",
                f"PidFile {folder / 'sshd.pid'}",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege-separation folder, when run as root
    server = subprocess.Popen(
        [str(sshd), "-D", "-e", "-f", str(folder / "sshd_config")], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"sshd did not start: {server.stderr.read()}") from None
                time.sleep(0.2)
        yield {"url": f"ssh://{getpass.getuser()}@127.0.0.1:{port}", "keyfile": str(folder / "client_key")}
    finally:
        server.terminate()
        server.wait(timeout=10)


def summary(repo: Path) -> pd.DataFrame:
    output = run([sys.executable, "-m", "mnist_transfer.experiments.summary", "--csv"], repo).stdout
    return pd.read_csv(io.StringIO(output))


def test_a_sweep_split_across_three_machines_is_summarised_whole_on_any_clone(pipeline_copy, ssh_server, tmp_path):
    origin = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    dvc(pipeline_copy, "remote", "add", "--default", "shared", f"{ssh_server['url']}{tmp_path / 'dvc-remote'}")
    # The key's path is each machine's own business: local config, not committed.
    dvc(pipeline_copy, "remote", "modify", "--local", "shared", "keyfile", ssh_server["keyfile"])
    commit_all(pipeline_copy, "share the cache over SSH")
    dvc(pipeline_copy, "push")
    git(pipeline_copy, "push", "-q", str(origin), "main")

    def machine(name: str) -> Path:
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        dvc(clone, "remote", "modify", "--local", "shared", "keyfile", ssh_server["keyfile"])
        dvc(clone, "pull")
        return clone

    for name, seeds in (("first", "range(0,1)"), ("second", "range(1,2)")):
        clone = machine(name)
        sweep = run(
            [sys.executable, "-m", "mnist_transfer.experiments.sweep", "--seeds", seeds, "-S", "epochs=1"], clone
        )
        assert "1 done, 0 failed" in sweep.stdout
        # The features came from the DVC remote: a seed never runs VGG16 again.
        assert "extract_features ran 0 times" in sweep.stdout
        dvc(clone, "exp", "push", "origin", "--all-commits")

    third = machine("third")
    dvc(third, "exp", "pull", "origin", "--all-commits")
    table = summary(third)
    assert len(table) == 1
    assert (table.iloc[0]["n"], table.iloc[0]["seeds"]) == (2, "0 1")

    shown = pd.read_csv(io.StringIO(dvc(third, "exp", "show", "--csv")))
    pulled = shown[shown["Experiment"].notna()].iloc[0]["Experiment"]
    dvc(third, "exp", "apply", pulled)
    assert stages_run(dvc(third, "repro")) == set()
