"""Evaluation metrics: ADFD (the paper's Eq. 4), LMD, PSNR, SSIM, identity similarity and the
learned metrics (FID, E-FID, FVD, SyncNet, CLIP-T, DINO) whose weights are present.

Importing this package is cheap (numpy only); ``evaluate`` loads MediaPipe, PyAV and the networks
when it runs.
"""
from .adfd import ADFDReport, adfd, adfd_report
from .evaluate import EvalResult, adfd_tracks, evaluate, evaluate_folders
from .image import psnr, ssim
from .landmark import LMDReport, lmd_report

__all__ = ["ADFDReport", "adfd", "adfd_report", "adfd_tracks", "EvalResult", "evaluate", "evaluate_folders",
           "LMDReport", "lmd_report", "psnr", "ssim"]
