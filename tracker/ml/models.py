"""Model zoo: the seed networks built from one conv block and one norm factory.

    tracker summary --set arch=s8 --set dataset=cifar10 --set norm=group
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..errors import ConfigError
from .datasets import DATASETS, NUM_CLASSES

IN_SHAPE = {name: d.shape for name, d in DATASETS.items()}
RESNET18_WEIGHTS = "resnet18-f37072fd.pth"


def make_norm(kind: str, channels: int, groups: int = 4, dims: int = 2) -> nn.Module:
    """batch | layer | group | none for a conv (dims=2) or dense (dims=1) layer.

    layer norm is GroupNorm with one group (seed 003): the same params as group norm.
    """
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if dims == 2 else nn.LayerNorm(channels)
    if kind == "group":
        if channels % groups:
            raise ConfigError(f"config key 'groups': {groups} groups do not divide a layer of "
                              f"{channels} channels; pick a divisor of every layer's channel count")
        return nn.GroupNorm(groups, channels)
    raise ConfigError(f"config key 'norm': unknown value {kind!r}")


class ConvBlock(nn.Sequential):
    """conv -> norm -> relu -> dropout; the norm is an attribute chosen by config."""

    def __init__(self, cin, cout, k=3, *, norm="batch", groups=4, dropout=0.0, padding=1,
                 stride=1, dilation=1, conv_groups=1, bias=True, act=True):
        layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation,
                            groups=conv_groups, bias=bias)]
        if act:
            layers += [make_norm(norm, cout, groups), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout2d(dropout))
        super().__init__(*layers)


def _head(cin: int) -> list[nn.Module]:
    return [nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, NUM_CLASSES, 1), nn.Flatten()]


def s8(cin, norm, groups, dropout):
    """seed 003: C1 C2 c3 P1 C3 C4 C5 c6 P2 C7 C8 C9 GAP C10 (48,178 params on CIFAR)."""
    b = partial(ConvBlock, norm=norm, groups=groups, dropout=dropout)
    return nn.Sequential(
        b(cin, 16), b(16, 16), ConvBlock(16, 8, 1, padding=0, act=False), nn.MaxPool2d(2),
        b(8, 32), b(32, 32), b(32, 32), ConvBlock(32, 16, 1, padding=0, act=False), nn.MaxPool2d(2),
        b(16, 32), b(32, 32), b(32, 32), *_head(32))


def dws(cin, norm, groups, dropout):
    """seed 001: depthwise-separable net, receptive field 45 (120,330 params on CIFAR)."""
    b = partial(ConvBlock, norm=norm, groups=groups)
    return nn.Sequential(
        b(cin, 32, 7, padding=3),
        ConvBlock(32, 32, 5, padding=2, conv_groups=32, act=False),  # depthwise
        b(32, 64, 1, padding=0, dropout=dropout),  # pointwise
        b(64, 64, 3, padding=0, dropout=dropout),
        b(64, 128, 3, padding=2, stride=2, dilation=2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, NUM_CLASSES))


def novice(cin, norm, groups, dropout):
    """seed 002, BN version: bias-free convs (18,064 params on CIFAR)."""
    b = partial(ConvBlock, norm=norm, groups=groups, dropout=dropout, bias=False)
    t = partial(ConvBlock, k=1, padding=0, bias=False, act=False)
    return nn.Sequential(
        b(cin, 16, padding=0), b(16, 32, padding=0), t(32, 10), nn.MaxPool2d(2),
        b(10, 16), b(16, 16, padding=0), b(16, 16), t(16, 10), nn.MaxPool2d(2),
        b(10, 16), b(16, 16), b(16, 16),
        nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, NUM_CLASSES, 1, bias=False), nn.Flatten())


def mnist_small(cin, norm, groups, dropout):
    """ours: 14,864 params on MNIST with batch norm, for fast MNIST studies (tests/test_models.py)."""
    b = partial(ConvBlock, norm=norm, groups=groups, dropout=dropout, bias=False, padding=0)
    return nn.Sequential(
        b(cin, 16), b(16, 32), ConvBlock(32, 16, 1, padding=0, bias=False, act=False), nn.MaxPool2d(2),
        b(16, 16), b(16, 16), b(16, 16), b(16, 16, padding=1),
        nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, NUM_CLASSES, 1, bias=False), nn.Flatten())


def mnist_fast(cin, norm, groups, dropout, *, in_hw=(28, 28)):
    """ours: 19,274 params on MNIST for every norm (under 20k), for the demo and mnist-fast.toml.
    A 2x2 stride-2 patch stem (no 28x28 activations: about 2x the images/s of a 3x3 stem on our
    CPU); channels in multiples of 16 (CPU BatchNorm in channels_last ran 2-5x slower on 8, 12 or
    24 channels); and a head on the flattened 3x3 map, not global pooling, so it sees where each
    feature is (on a validation split LN and GN then matched BN; with pooling they trailed it)."""
    b = partial(ConvBlock, norm=norm, groups=groups, dropout=dropout, bias=False)
    return nn.Sequential(
        b(cin, 16, 2, padding=0, stride=2),
        b(16, 16), nn.MaxPool2d(2),
        b(16, 32), b(32, 32), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (in_hw[0] // 8) * (in_hw[1] // 8), NUM_CLASSES))


def fashion(cin, norm, groups, dropout, *, stages, dense, padding, in_hw):
    """seed 004: conv stages, a norm after each stage's last conv, then dense layers."""
    feats: list[nn.Module] = []
    cin0 = cin
    for stage in stages:
        for cout in stage:
            feats.append(nn.Conv2d(cin, cout, 3, padding=padding))
            cin = cout
        feats += [make_norm(norm, cin, groups), nn.ReLU(inplace=True)]
    feats.append(nn.Flatten())
    features = nn.Sequential(*feats)
    with torch.no_grad():
        width = features(torch.zeros(1, cin0, *in_hw)).shape[1]
    layers: list[nn.Module] = []
    for out in dense:
        layers += [nn.Linear(width, out), make_norm(norm, out, groups, dims=1), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = out
    layers.append(nn.Linear(width, NUM_CLASSES))  # logits; the seed's softmax lives in the loss
    return nn.Sequential(features, *layers)


def resnet18(cin, norm, groups, dropout, *, pretrained=False):
    """seed 004: torchvision ResNet-18 with a cin-channel stem and a 10-class head."""
    from torchvision.models import ResNet18_Weights, resnet18 as tv_resnet18

    weights = None
    if pretrained:
        if norm != "batch":
            raise ConfigError("config key 'pretrained': ImageNet weights need norm = \"batch\"")
        weights = ResNet18_Weights.DEFAULT
    try:
        net = tv_resnet18(weights=weights, norm_layer=lambda c: make_norm(norm, c, groups))
    except OSError as e:  # URLError is an OSError
        hub = torch.hub.get_dir()
        raise ConfigError(f"pretrained resnet18 weights are not available offline: expected "
                          f"{hub}/checkpoints/{RESNET18_WEIGHTS} ({e.__class__.__name__})") from None
    net.conv1 = nn.Conv2d(cin, 64, kernel_size=7, stride=2, padding=3, bias=False)
    net.fc = nn.Linear(net.fc.in_features, NUM_CLASSES)
    return net


# every architecture, by its config name: (cin, norm, groups, dropout, in_hw, pretrained) -> net;
# config.py reads its names from here
ARCHS = {
    "s8": lambda *a, hw, pre: s8(*a),
    "dws": lambda *a, hw, pre: dws(*a),
    "novice": lambda *a, hw, pre: novice(*a),
    "fashion-v1": lambda *a, hw, pre: fashion(*a, stages=[[1], [1]], dense=[64, 32], padding=0, in_hw=hw),
    "fashion-v1-5-5": lambda *a, hw, pre: fashion(*a, stages=[[32, 32], [64, 64], [128, 128]],
                                                  dense=[256, 64], padding=1, in_hw=hw),
    "fashion-v1-5-5-bn": lambda *a, hw, pre: ARCHS["fashion-v1-5-5"](*a, hw=hw, pre=pre),
    "resnet18": lambda *a, hw, pre: resnet18(*a, pretrained=pre),
    "mnist-small": lambda *a, hw, pre: mnist_small(*a),
    "mnist-fast": lambda *a, hw, pre: mnist_fast(*a, in_hw=hw),
}


def build_model(cfg) -> nn.Module:
    """The net a run config names (its arch, dataset, norm, groups, dropout, pretrained)."""
    if cfg.arch not in ARCHS:
        raise ConfigError(f"config key 'arch': unknown value {cfg.arch!r}; expected one of {', '.join(ARCHS)}")
    cin, h, w = IN_SHAPE[cfg.dataset]
    return ARCHS[cfg.arch](cin, cfg.norm, cfg.groups, cfg.dropout, hw=(h, w), pre=cfg.pretrained)


def count_params(model: nn.Module) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    return total, sum(p.numel() for p in model.parameters() if p.requires_grad)


def receptive_field(model: nn.Module, in_shape: tuple[int, int, int]) -> int:
    """Receptive field of the output along the main path, computed from a forward pass.

    A layer counts when its input has the spatial size the main path has reached, so a
    residual shortcut (which reads the block's input) is not counted twice. Global pooling
    counts as a window over the whole map, as in seed 001's figure of 45.
    """
    events: list[tuple[nn.Module, int]] = []
    hooks = [m.register_forward_hook(lambda m, i, o: events.append((m, i[0].shape[-1])))
             for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *in_shape))
    model.train(was_training)
    for hook in hooks:
        hook.remove()
    rf, jump, size = 1, 1, in_shape[-1]
    for m, in_size in events:
        if in_size != size:
            continue
        if isinstance(m, nn.AdaptiveAvgPool2d):
            k, s, d = in_size, 1, 1
        else:
            k, s, d = (_first(getattr(m, a, 1)) for a in ("kernel_size", "stride", "dilation"))
            if s is None:
                s = k
        rf += (k - 1) * d * jump
        jump *= s
        size = _out_size(m, in_size)
    return rf


def _first(v):
    return v[0] if isinstance(v, tuple) else v


def _out_size(m: nn.Module, n: int) -> int:
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return 1
    k, s, p, d = (_first(getattr(m, a, 1)) for a in ("kernel_size", "stride", "padding", "dilation"))
    if isinstance(p, str):  # padding="same"
        return n
    ceil = getattr(m, "ceil_mode", False)
    num = n + 2 * p - d * (k - 1) - 1
    return (-(-num // s) if ceil else num // s) + 1
