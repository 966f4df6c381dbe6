"""One small, seeded model of every built-in format, and how to compare predictions.

Used by ``test_formats.py`` in fresh processes: ``python format_zoo.py register STORE
OUT`` builds and registers every model and writes their digests and predictions;
``python format_zoo.py load STORE OUT`` loads each with ``safe=True`` (``pickle`` with
``safe=False``) and writes what the loaded models predict.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch

import modelver

X = np.random.RandomState(0).rand(64, 4).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 1).astype(np.int64)


@modelver.model_init
class Net(torch.nn.Module):
    """A small torch module whose constructor arguments modelver records."""

    def __init__(self, n_in: int = 4, hidden: int = 8) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                                        torch.nn.Linear(hidden, 1))

    def forward(self, x: Any) -> Any:
        return self.body(x)


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[PAD]": 1, **{w: i + 2 for i, w in enumerate(
        ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"])}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")


def peft_base() -> Any:
    """The base model a LoRA adapter goes onto (the same weights in every process)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(1)
    return GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=10,
                                      n_positions=16)).eval()


def _more_hf(tmp: Path) -> dict[str, tuple[Any, Any]]:
    """diffusers, sentence-transformers and a peft adapter: more ``hf`` objects."""
    from diffusers import UNet2DModel
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as st_models
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 8),
                       layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).eval()
    x = torch.ones(1, 1, 8, 8)
    out: dict[str, tuple[Any, Any]] = {}
    out["hf-diffusers"] = (unet, lambda m: [type(m).__name__, m(x, 1).sample.detach().numpy()
                                            .round(4).tolist()])
    bert_dir = tmp / "bert"
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=10, hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32,
                         max_position_embeddings=32)).save_pretrained(bert_dir)
    _tokenizer().save_pretrained(bert_dir)
    st = SentenceTransformer(modules=[st_models.Transformer(str(bert_dir)),
                                      st_models.Pooling(16)])
    out["hf-sentence-transformers"] = (st, lambda m: [type(m).__name__, m.encode(
        ["the cat sat"]).round(5).tolist()])
    torch.manual_seed(2)
    lora = get_peft_model(peft_base(), LoraConfig(r=2, target_modules=["c_attn"],
                                                  init_lora_weights=False)).eval()
    ids = torch.tensor([[2, 3, 4]])
    out["hf-peft"] = (lora, lambda m: [type(m).__name__, m(ids).logits.detach().numpy()
                                       .round(5).tolist()])
    return out


def build(tmp: Path) -> dict[str, tuple[Any, Any]]:
    """name -> (object to register, predictor giving plain JSON data from an object)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    torch.manual_seed(0)
    t = torch.from_numpy(X)
    zoo: dict[str, tuple[Any, Any]] = {}
    zoo["npy"] = (X, lambda a: float(np.asarray(a, dtype=np.float64).sum()))
    net = Net(4, hidden=8)
    zoo["torch-module"] = (net, lambda m: m(t).detach().numpy().round(6).tolist())
    zoo["safetensors"] = (net.state_dict(), lambda sd: {k: v.sum().item() for k, v in sd.items()})
    zoo["torch-state"] = ({"model": net.state_dict(), "epoch": 3, "lr": [0.1, 0.01]},
                          lambda c: [c["epoch"], c["lr"], c["model"]["body.0.bias"].tolist()])
    sk = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y)
    zoo["skops"] = (sk, lambda m: m.predict_proba(X).round(8).tolist())
    rf = RandomForestClassifier(8, random_state=0).fit(X, Y)
    zoo["skops-forest"] = (rf, lambda m: m.predict_proba(X).round(8).tolist())

    import xgboost as xgb

    xm = xgb.XGBClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, Y)
    zoo["xgboost"] = (xm, lambda m: [type(m).__name__, m.predict_proba(X).round(6).tolist()])
    zoo["xgboost-booster"] = (xm.get_booster(), lambda b: [type(b).__name__, b.predict(
        xgb.DMatrix(X)).round(6).tolist()])
    import lightgbm as lgb

    lm = lgb.LGBMClassifier(n_estimators=5, random_state=0, verbose=-1).fit(X, Y)
    zoo["lightgbm"] = (lm, lambda m: [type(m).__name__, m.predict(X).tolist(),
                                      m.predict_proba(X).round(6).tolist()])
    zoo["lightgbm-booster"] = (lm.booster_, lambda b: [type(b).__name__,
                                                       b.predict(X).round(6).tolist()])
    import catboost

    cm = catboost.CatBoostClassifier(iterations=5, depth=3, random_seed=0, verbose=0,
                                     allow_writing_files=False, thread_count=1).fit(X, Y)
    zoo["catboost"] = (cm, lambda m: [type(m).__name__, m.predict_proba(X).round(6).tolist()])
    import keras

    keras.utils.set_random_seed(0)
    km = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                           keras.layers.Dense(1)])
    zoo["keras"] = (km, lambda m: np.asarray(m.predict(X, verbose=0)).round(5).tolist())
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])], "add",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [2])])
    proto = helper.make_model(graph, producer_name="modelver-tests")
    zoo["onnx"] = (proto, lambda p: [type(p).__name__, [n.op_type for n in p.graph.node],
                                     p.producer_name])
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    gpt = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=10,
                                     n_positions=16)).eval()
    ids = torch.tensor([[2, 3, 4, 5]])
    zoo["hf"] = (gpt, lambda m: [type(m).__name__, m.training,
                                 m(ids).logits.detach().numpy().round(5).tolist()])
    zoo["hf-tokenizer"] = (_tokenizer(), lambda tk: tk("the cat sat on a mat")["input_ids"])
    zoo.update(_more_hf(tmp))
    report = tmp / "report.html"
    report.write_text("<h1>eval</h1>\n", encoding="utf-8")
    zoo["file"] = (report, lambda p: [p.name, p.read_text(encoding="utf-8")])
    folder = tmp / "assets"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha", encoding="utf-8")
    (folder / "sub" / "b.txt").write_text("beta", encoding="utf-8")
    zoo["folder"] = (folder, lambda p: sorted(
        (str(f.relative_to(p)), f.read_text(encoding="utf-8")) for f in p.rglob("*")
        if f.is_file()))
    zoo["bytes"] = (b"\x00raw bytes\xff", lambda b: list(b))
    zoo["json"] = ({"threshold": 0.5, "labels": ["no", "yes"]}, lambda v: v)
    zoo["bundle"] = ({"model": sk, "tokenizer": _tokenizer(), "eval": report,
                      "threshold": 0.25},
                     lambda d: [sorted(d), d["model"].predict(X).tolist(),
                                d["tokenizer"]("the dog ran")["input_ids"], d["eval"].name,
                                d["threshold"]])
    zoo["pickle"] = ((1, 2, frozenset({3})), lambda v: [list(v[:2]), sorted(v[2])])
    return zoo


EXPECTED_FORMAT = {"skops-forest": "skops", "xgboost-booster": "xgboost",
                   "lightgbm-booster": "lightgbm", "hf-tokenizer": "hf", "hf-diffusers": "hf",
                   "hf-sentence-transformers": "hf", "hf-peft": "hf"}


def main(argv: list[str]) -> None:
    action, store_uri, out = argv
    tmp = Path(out).parent / f"zoo-{action}-{os.getpid()}"
    tmp.mkdir()
    store = modelver.open(store_uri)
    zoo = build(tmp)
    result: dict[str, Any] = {}
    for name, (obj, predict) in zoo.items():
        if action == "register":
            mv = store.register(name, obj)
            result[name] = {"format": mv.format, "digest": mv.digest, "pred": predict(obj)}
        else:
            into = peft_base() if name == "hf-peft" else None  # an adapter needs its base
            loaded = store.load(name, safe=name != "pickle", into=into)
            result[name] = {"type": type(loaded).__name__, "pred": predict(loaded)}
    Path(out).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
