"""Evaluation metrics: ADFD (the paper's Eq. 4), LMD, PSNR, SSIM, identity similarity and the
learned metrics (FID, E-FID, FVD, SyncNet, CLIP-T, DINO) whose weights are present.

Importing this package is cheap; video evaluation lives in :mod:`portraittalk.metrics.evaluate`.
"""
from .adfd import ADFDReport, adfd, adfd_report
from .image import psnr, ssim
from .landmark import LMDReport, lmd_report

__all__ = ["ADFDReport", "adfd", "adfd_report", "LMDReport", "lmd_report", "psnr", "ssim"]
