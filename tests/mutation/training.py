"""Plausible bugs in training (preprocess, data sets, stages, the loop, audio-to-motion)."""
from __future__ import annotations

from mutation.mutate import Mutant

PRE = "tests/training/test_preprocess.py"
DATA = "tests/training/test_data.py"
TRAIN = "tests/training/test_train.py"
A2M = "tests/training/test_audio2motion.py"
MOUTH = "tests/training/test_mouth.py"

MUTANTS: list[Mutant] = [
    Mutant("training: resampling takes the earlier frame, not the nearest", "portraittalk/training/preprocess.py",
           "            middle = (prev[0] + t) / 2.0\n", "            middle = t\n",
           (f"{PRE}::test_resample_picks_the_nearest_frame",)),
    Mutant("training: gaps without a face never filled", "portraittalk/training/preprocess.py",
           "        if 1 < b - a <= max_gap + 1:\n", "        if False:\n", (PRE,)),
    Mutant("training: a failed video leaves its temporary folder", "portraittalk/training/preprocess.py",
           "    shutil.rmtree(tmp, ignore_errors=True)\n    return VideoResult(job.clip_id, str(job.source), \"failed\", message)\n",
           "    return VideoResult(job.clip_id, str(job.source), \"failed\", message)\n", (PRE,)),
    Mutant("training: previous frame is the frame itself", "portraittalk/training/data.py",
           "        item[\"previous\"] = to_tensor(_resize(clip.frame(t - 1), r), signed=True)\n",
           "        item[\"previous\"] = to_tensor(_resize(clip.frame(t), r), signed=True)\n", (DATA,)),
    Mutant("training: sample seeds ignore the epoch", "portraittalk/training/data.py",
           "        s = sample_seed(self.seed, self.epoch, index)\n", "        s = sample_seed(self.seed, 0, index)\n",
           (DATA,)),
    Mutant("training: audio windows misaligned with their motion", "portraittalk/training/data.py",
           "self.features[c][2 * s : 2 * (s + w)]", "self.features[c][s : s + 2 * w]", (A2M,)),
    Mutant("training: Eq. (1) fed the clean latent", "portraittalk/training/diffusion_task.py",
           "        masked = self._encode(batch[\"masked\"]) if self.objective == \"mask\" else clean\n",
           "        masked = clean\n", (f"{TRAIN}::test_stage_one_regresses_eq1_and_drops_conditions_for_cfg",)),
    Mutant("training: dropping both keeps the face", "portraittalk/training/diffusion_task.py",
           "        drop_face = ((u >= s.drop_text) & (u < s.drop_text + s.drop_face)) | both\n",
           "        drop_face = (u >= s.drop_text) & (u < s.drop_text + s.drop_face)\n",
           (f"{TRAIN}::test_stage_one_regresses_eq1_and_drops_conditions_for_cfg",)),
    Mutant("training: stage 2 export drops stage 1's UNet", "portraittalk/training/diffusion_task.py",
           "        self.includes_unet = includes_unet or number in (1, 3)", "        self.includes_unet = number in (1, 3)",
           (f"{TRAIN}::test_stage_two_from_a_stage_one_run_keeps_identitynet_bitwise",)),
    Mutant("training: accumulated loss not averaged", "portraittalk/training/trainer.py",
           "                self.accelerator.backward(loss / n)\n", "                self.accelerator.backward(loss)\n",
           (f"{TRAIN}::test_two_processes_on_gloo_give_the_one_process_gradients",)),
    Mutant("training: resume replays the epoch's first batches", "portraittalk/training/trainer.py",
           "            skip = done * self.accumulation\n", "            skip = 0\n",
           (f"{TRAIN}::test_resume_continues_the_step_count_and_matches_an_uninterrupted_run",)),
    Mutant("training: checkpoints store frozen tensors too", "portraittalk/training/trainer.py",
           "    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}\n",
           "    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters()}\n",
           (f"{TRAIN}::test_run_folder_is_a_weights_folder_that_reloads_to_identical_outputs",)),
    Mutant("training: KL term with the wrong sign", "portraittalk/training/motion_task.py",
           "        kl = (-0.5 * (1 + logvar", "        kl = (0.5 * (1 + logvar", (A2M,)),
    Mutant("training: motion rest pose is any frame, not a closed mouth", "portraittalk/motion/vae.py",
           "    closed = aperture <= np.quantile(aperture, 0.1)\n", "    closed = aperture >= 0\n", (DATA,)),
    Mutant("training: motion targets not aligned for head pose", "portraittalk/motion/vae.py",
           "    aligned = apply_affines(mats, points[found])\n",
           "    aligned = points[found] / np.linalg.norm(points[found][:, 10] - points[found][:, 152], axis=-1).mean()\n",
           (DATA,)),
    Mutant("training: the mouth stage never steps its optimiser", "portraittalk/training/mouth.py",
           "        opt.step()\n", "", (MOUTH,)),
    Mutant("training: the causal-mouth stage never steps its optimiser", "portraittalk/training/causal_mouth.py",
           "        opt.step()\n", "", ("tests/training/test_causal_mouth.py",)),
]  # fmt: skip

# The motion corpus (issue 21): measurements in the face's frame, GRID split, model-free timing.
CORPUS = "tests/training/test_motion_corpus.py"
_MC = "portraittalk/training/motion_corpus.py"
MUTANTS += [
    Mutant("motion corpus: roll's sign flipped", _MC,
           "    roll = np.arctan2(x[..., 1], x[..., 0])\n", "    roll = np.arctan2(-x[..., 1], x[..., 0])\n", (CORPUS,)),
    Mutant("motion corpus: yaw's sign flipped", _MC,
           "    yaw = np.arcsin(np.clip(x[..., 2], -1.0, 1.0))\n", "    yaw = np.arcsin(np.clip(-x[..., 2], -1.0, 1.0))\n",
           (CORPUS,)),
    Mutant("motion corpus: pitch read from the eye line", _MC,
           "    pitch = np.arcsin(np.clip(y[..., 2], -1.0, 1.0))\n", "    pitch = np.arcsin(np.clip(x[..., 2], -1.0, 1.0))\n",
           (CORPUS,)),
    Mutant("motion corpus: expression measured in image axes", _MC,
           'np.einsum("...nk,...kj->...nj", np.asarray(points, np.float64) - centre[..., None, :], axes)',
           "(np.asarray(points, np.float64) - centre[..., None, :])", (CORPUS,)),
    Mutant("motion corpus: pitch lag off by the search's start", _MC,
           "    lag = lo + np.argmax(norm[:, lo : hi + 1], axis=1)\n", "    lag = np.argmax(norm[:, lo : hi + 1], axis=1)\n",
           (CORPUS,)),
    Mutant("motion corpus: GRID split inverted", _MC,
           '"validation" if int.from_bytes(digest[:4], "big") / 2**32 < VALIDATION_FRACTION else "train"',
           '"train" if int.from_bytes(digest[:4], "big") / 2**32 < VALIDATION_FRACTION else "validation"', (CORPUS,)),
    Mutant("motion corpus: release timed from the closure's first frame", _MC,
           "        m = hi - 1 - int(np.argmin(lip_gap[lo:hi][::-1]))", "        m = lo + int(np.argmin(lip_gap[lo:hi]))",
           (CORPUS,)),
    Mutant("motion corpus: cross-correlation lag's sign flipped", _MC,
           "            a, b = (g[lag:], e[: len(e) - lag]) if lag >= 0 else (g[:lag], e[-lag:])\n",
           "            a, b = (e[lag:], g[: len(g) - lag]) if lag >= 0 else (e[:lag], g[-lag:])\n", (CORPUS,)),
]  # fmt: skip
