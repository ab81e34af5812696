#!/usr/bin/env python3
"""Export a torchvision classifier to ONNX and pack it for modelserver.

TorchServe archives a .pt plus a Python handler; modelserver serves ONNX with JavaScript handlers, so the one
new step is torch.onnx.export. This script does it for any torchvision classification model and then runs
`npx model-archiver` with the built-in image_classifier handler (TorchServe's resize 256, centre crop 224,
ImageNet normalisation, softmax, top 5) and the model's labels as index_to_name.json.

    pip install torch torchvision onnx
    python3 examples/torchvision/export_and_archive.py --model resnet18 --export-path model_store
    curl -X POST "http://127.0.0.1:8081/models?url=resnet18.mar&initial_workers=1"
    curl -T kitten.jpg http://127.0.0.1:8080/predictions/resnet18

With --onnx FILE --labels FILE it skips the export (no torch needed) and only archives an ONNX file you have.
Run it from the repository's folder (it calls `npx model-archiver`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def export_onnx(model_name: str, out_dir: str) -> tuple[str, str]:
    """Writes <model>.onnx (dynamic batch) and index_to_name.json; returns their paths."""
    import torch  # imported here: archiving an existing ONNX file needs no torch
    import torchvision

    weights = torchvision.models.get_model_weights(model_name).DEFAULT
    model = torchvision.models.get_model(model_name, weights=weights).eval()
    onnx_path = os.path.join(out_dir, f"{model_name}.onnx")
    example = torch.randn(1, 3, 224, 224)
    torch.onnx.export(
        model,
        example,
        onnx_path,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        opset_version=17,
    )
    labels_path = os.path.join(out_dir, "index_to_name.json")
    with open(labels_path, "w", encoding="utf-8") as f:
        json.dump({str(i): name for i, name in enumerate(weights.meta["categories"])}, f)
    return onnx_path, labels_path


def archive(name: str, version: str, onnx_path: str, labels_path: str, export_path: str, force: bool) -> str:
    """Runs modelserver's model-archiver; returns the archive's path."""
    os.makedirs(export_path, exist_ok=True)
    cmd = [
        "npx", "--no-install", "model-archiver",
        "--model-name", name, "--version", version,
        "--serialized-file", onnx_path,
        "--handler", "image_classifier",
        "--extra-files", labels_path,
        "--export-path", export_path,
    ]
    if force:
        cmd.append("--force")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet18", help="a torchvision classification model (default resnet18)")
    p.add_argument("--name", help="the model name to serve it under (default: --model)")
    p.add_argument("--version", default="1.0")
    p.add_argument("--export-path", default="model_store", help="where the .mar goes (default model_store)")
    p.add_argument("--onnx", help="archive this ONNX file instead of exporting (needs --labels; no torch needed)")
    p.add_argument("--labels", help="index_to_name.json for --onnx")
    p.add_argument("--force", action="store_true", help="overwrite an existing archive")
    a = p.parse_args()
    name = a.name or a.model
    with tempfile.TemporaryDirectory() as tmp:
        if a.onnx:
            if not a.labels:
                p.error("--onnx needs --labels (an index_to_name.json)")
            onnx_path, labels_path = a.onnx, a.labels
        else:
            try:
                onnx_path, labels_path = export_onnx(a.model, tmp)
            except ImportError as e:
                print(f"error: the export needs PyTorch ({e}): pip install torch torchvision onnx", file=sys.stderr)
                return 1
        try:
            print(archive(name, a.version, onnx_path, labels_path, a.export_path, a.force))
        except subprocess.CalledProcessError as e:
            print(e.stderr.strip() or e, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
