"""The fast-recipe knobs: val_split, EMA, label smoothing, TTA, warmup, and a run that uses them."""
import pytest
import torch
from torch import nn

from tests.helpers import all_runs, cli, sets, store_client
from tracker.config import make_config
from tracker.errors import ConfigError
from tracker.ml.data import load_split, split_val
from tracker.ml.ema import EMA
from tracker.runs.prepare import prepare
from tracker.ml.models import build_model, count_params
from tracker.ml.train import logits, shift, train_epoch


@pytest.mark.parametrize("key,value", [("val_split", 1.0), ("val_split", -0.1), ("ema", 1.0),
                                       ("label_smoothing", 1.5), ("warmup", 0.0), ("warmup", 1.0),
                                       ("tta", 1), ("nesterov", "yes")])
def test_bad_values_name_the_key(key, value):
    with pytest.raises(ConfigError, match=f"'{key}'") as e:
        make_config({key: value})
    assert "\n" not in str(e.value)


def test_defaults_change_nothing():
    cfg = make_config({})
    assert (cfg.val_split, cfg.ema, cfg.label_smoothing, cfg.tta, cfg.nesterov) == (0.0, 0.0, 0.0, False, False)
    assert cfg.warmup == 0.3  # OneCycleLR's own pct_start


def test_val_split_is_stratified_disjoint_and_seeded(mnist_dir):
    full = load_split("mnist", mnist_dir, True, download=False)  # 600 images, 60 per class
    train, val = split_val(full, 0.1, seed=1)
    assert (len(train), len(val)) == (540, 60)
    assert torch.bincount(val.labels, minlength=10).tolist() == [6] * 10
    assert torch.bincount(train.labels, minlength=10).tolist() == [54] * 10
    rows = {bytes(img.numpy()) for img in full.images}
    assert len(rows) == 600  # the fake images are all different, so images identify rows
    t_rows = {bytes(img.numpy()) for img in train.images}
    v_rows = {bytes(img.numpy()) for img in val.images}
    assert not t_rows & v_rows and t_rows | v_rows == rows
    again = split_val(full, 0.1, seed=1)[1]
    other = split_val(full, 0.1, seed=2)[1]
    assert torch.equal(again.images, val.images) and torch.equal(again.labels, val.labels)
    assert not torch.equal(other.images, val.images)
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (1, 28, 28)


def test_prepare_holds_out_val_only_when_asked(tiny):
    assert prepare(make_config(tiny)).val is None
    p = prepare(make_config({**tiny, "val_split": 0.2}))
    assert (len(p.train), len(p.val), len(p.test)) == (480, 120, 200)


def test_ema_follows_the_decay():
    model = nn.Sequential(nn.Linear(2, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    ema = EMA(model, decay=0.9)
    for w in (2.0, 4.0):
        with torch.no_grad():
            model[0].weight.fill_(w)
        ema.update()
    # 1 -> 0.9 * 1 + 0.1 * 2 = 1.1 -> 0.9 * 1.1 + 0.1 * 4 = 1.39
    assert ema.model[0].weight.flatten().tolist() == pytest.approx([1.39, 1.39])
    assert model[0].weight.flatten().tolist() == [4.0, 4.0]
    model.train()(torch.randn(8, 2))  # batch norm statistics move, and num_batches_tracked
    ema.update()
    assert ema.model[1].num_batches_tracked.item() == 1
    assert ema.model[1].running_mean.item() == pytest.approx(0.1 * model[1].running_mean.item())
    assert not ema.model[0].weight.requires_grad and not ema.model.training


def test_ema_weights_differ_from_raw_after_training(mnist_dir):
    cfg = make_config({"data_dir": str(mnist_dir), "download": False, "dropout": 0.0})
    from tracker.ml.data import Batches
    from tracker.ml.train import make_optimizer

    torch.manual_seed(0)
    model = build_model(cfg)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    ema = EMA(model, 0.5)
    batches = Batches(load_split("mnist", mnist_dir, True, False, limit=128), "mnist", 32,
                      torch.device("cpu"), shuffle=True)
    train_epoch(model, batches, make_optimizer(cfg, model), None, False, ema=ema)
    w, e, w0 = model[0][0].weight, ema.model[0][0].weight, start["0.0.weight"]
    assert not torch.equal(w, e) and not torch.equal(e, w0)
    assert (e - w).abs().sum() < (w0 - w).abs().sum()  # the average trails the weights


def test_label_smoothing_is_torchs():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))

    class OneBatch(list):
        device = torch.device("cpu")

    losses = {}
    for ls in (0.0, 0.2):
        m = nn.Linear(4, 3)
        m.load_state_dict(model.state_dict())
        opt = torch.optim.SGD(m.parameters(), lr=0.0)
        losses[ls] = train_epoch(m, OneBatch([(x, y)]), opt, None, False, label_smoothing=ls)["train_loss"]
    logits = model(x)
    assert losses[0.0] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-6)
    smooth = (1 - 0.2) * nn.functional.cross_entropy(logits, y) + 0.2 * -logits.log_softmax(1).mean(1).mean()
    assert losses[0.2] == pytest.approx(smooth.item(), rel=1e-5)
    assert losses[0.2] != pytest.approx(losses[0.0])


def test_tta_shifts_and_averages():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    assert shift(x, 1, 0)[0, 0, 3, 2] == 1.0 and shift(x, 0, -1)[0, 0, 2, 1] == 1.0
    assert torch.equal(shift(x, 0, 0), x)
    model = nn.Sequential(nn.Flatten(), nn.Linear(25, 3))
    # the image and its four one-pixel shifts, written here (not the code's own table)
    views = torch.stack([model(shift(x, dy, dx)) for dy, dx in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))]).mean(0)
    assert torch.allclose(logits(model, x, tta=True), views)
    assert not torch.allclose(logits(model, x, tta=True), logits(model, x))


@pytest.mark.parametrize("norm", ["batch", "layer", "group"])
def test_mnist_fast_under_20k(norm):
    assert count_params(build_model(make_config({"arch": "mnist-fast", "norm": norm}))) == (19_274, 19_274)


def test_run_with_every_knob_logs_val_metrics(tiny):
    knobs = {**tiny, "val_split": 0.1, "ema": 0.9, "label_smoothing": 0.1, "tta": True,
             "warmup": 0.2, "nesterov": True}
    result = cli("train", *sets(knobs))
    assert result.exit_code == 0, result.output
    (run,) = all_runs()
    c = store_client()
    for key in ("val_loss", "val_acc", "val_acc_best"):
        assert [m.step for m in c.get_metric_history(run.info.run_id, key)] == [1, 2], key
    m = run.data.metrics
    assert 0.1 < m["val_acc"] <= m["val_acc_best"] <= 1
    assert run.data.params["val_split"] == "0.1" and run.data.params["ema"] == "0.9"


def test_no_val_metrics_without_val_split(tiny):
    assert cli("train", *sets(tiny)).exit_code == 0
    (run,) = all_runs()
    assert not {"val_acc", "val_loss", "val_acc_best"} & set(run.data.metrics)


def test_tta_only_on_the_final_evaluation(tiny, monkeypatch):
    """TTA costs 5 evaluations: a run pays it once, on the final epoch (the figure reported)."""
    from tracker.runs import epochs

    calls, real = [], epochs.evaluate

    def spy(model, batches, precision="fp32", tta=False, prefix="test", keep=False):
        calls.append((prefix, tta, keep))
        return real(model, batches, precision, tta, prefix, keep)

    monkeypatch.setattr(epochs, "evaluate", spy)
    result = cli("train", *sets({**tiny, "tta": True, "val_split": 0.1, "epochs": 2}))
    assert result.exit_code == 0, result.output
    assert calls == [("test", False, False), ("val", False, False), ("test", True, True), ("val", True, False)]
