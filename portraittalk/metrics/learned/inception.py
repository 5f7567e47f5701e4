"""Inception-v3 in the torchvision / timm layout, so their checkpoints load by name."""
from __future__ import annotations

from typing import Optional


def inception_v3():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Conv(nn.Module):
        def __init__(self, cin: int, cout: int, k, s=1, p=0) -> None:
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, s, p, bias=False)
            self.bn = nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    def pool3(x):
        return F.avg_pool2d(x, 3, 1, 1)

    class Block(nn.Module):
        """One Inception block: named branches (lists of convs, some ending in a parallel pair)."""

        def __init__(self, spec: dict[str, tuple], pooling: Optional[str], pool_conv: Optional[tuple]) -> None:
            super().__init__()
            self.paths: list[tuple[list[str], list[str]]] = []
            for prefix, layers in spec.items():
                serial, parallel = [], []
                for suffix, args in layers:
                    name = f"{prefix}{suffix}"
                    self.add_module(name, Conv(*args))
                    (parallel if suffix[-1:] in ("a", "b") and len(suffix) > 1 and suffix[-2].isdigit()
                     else serial).append(name)  # fmt: skip
                self.paths.append((serial, parallel))
            self.pooling = pooling
            if pool_conv is not None:
                self.branch_pool = Conv(*pool_conv)

        def forward(self, x):
            outs = []
            for serial, parallel in self.paths:
                y = x
                for name in serial:
                    y = getattr(self, name)(y)
                outs.append(torch.cat([getattr(self, n)(y) for n in parallel], 1) if parallel else y)
            if self.pooling == "avg":
                outs.append(self.branch_pool(pool3(x)))
            else:
                outs.append(F.max_pool2d(x, 3, 2))
            return torch.cat(outs, 1)

    def block_a(cin, pool):
        return Block({"branch1x1": [("", (cin, 64, 1))],
                      "branch5x5": [("_1", (cin, 48, 1)), ("_2", (48, 64, 5, 1, 2))],
                      "branch3x3dbl": [("_1", (cin, 64, 1)), ("_2", (64, 96, 3, 1, 1)), ("_3", (96, 96, 3, 1, 1))]},
                     "avg", (cin, pool, 1))  # fmt: skip

    def block_b(cin):
        return Block({"branch3x3": [("", (cin, 384, 3, 2))],
                      "branch3x3dbl": [("_1", (cin, 64, 1)), ("_2", (64, 96, 3, 1, 1)), ("_3", (96, 96, 3, 2))]},
                     "max", None)  # fmt: skip

    def block_c(cin, c7):
        h, v = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
        return Block({"branch1x1": [("", (cin, 192, 1))],
                      "branch7x7": [("_1", (cin, c7, 1)), ("_2", (c7, c7, *h)), ("_3", (c7, 192, *v))],
                      "branch7x7dbl": [("_1", (cin, c7, 1)), ("_2", (c7, c7, *v)), ("_3", (c7, c7, *h)),
                                       ("_4", (c7, c7, *v)), ("_5", (c7, 192, *h))]},
                     "avg", (cin, 192, 1))  # fmt: skip

    def block_d(cin):
        return Block({"branch3x3": [("_1", (cin, 192, 1)), ("_2", (192, 320, 3, 2))],
                      "branch7x7x3": [("_1", (cin, 192, 1)), ("_2", (192, 192, (1, 7), 1, (0, 3))),
                                      ("_3", (192, 192, (7, 1), 1, (3, 0))), ("_4", (192, 192, 3, 2))]},
                     "max", None)  # fmt: skip

    def block_e(cin):
        h, v = ((1, 3), 1, (0, 1)), ((3, 1), 1, (1, 0))
        return Block({"branch1x1": [("", (cin, 320, 1))],
                      "branch3x3": [("_1", (cin, 384, 1)), ("_2a", (384, 384, *h)), ("_2b", (384, 384, *v))],
                      "branch3x3dbl": [("_1", (cin, 448, 1)), ("_2", (448, 384, 3, 1, 1)),
                                       ("_3a", (384, 384, *h)), ("_3b", (384, 384, *v))]},
                     "avg", (cin, 192, 1))  # fmt: skip

    class InceptionV3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.Conv2d_1a_3x3 = Conv(3, 32, 3, 2)
            self.Conv2d_2a_3x3 = Conv(32, 32, 3)
            self.Conv2d_2b_3x3 = Conv(32, 64, 3, 1, 1)
            self.Conv2d_3b_1x1 = Conv(64, 80, 1)
            self.Conv2d_4a_3x3 = Conv(80, 192, 3)
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = block_a(192, 32), block_a(256, 64), block_a(288, 64)
            self.Mixed_6a = block_b(288)
            self.Mixed_6b, self.Mixed_6c = block_c(768, 128), block_c(768, 160)
            self.Mixed_6d, self.Mixed_6e = block_c(768, 160), block_c(768, 192)
            self.Mixed_7a, self.Mixed_7b, self.Mixed_7c = block_d(768), block_e(1280), block_e(2048)

        def forward(self, x):
            x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
            x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
            x = F.max_pool2d(x, 3, 2)
            for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
                x = getattr(self, f"Mixed_{name}")(x)
            return x.mean(dim=(2, 3))

    return InceptionV3()
