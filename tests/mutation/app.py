"""Plausible bugs in what the app tells a creator while and after it works (issue 25)."""
from __future__ import annotations

from mutation.mutate import Mutant

FEEDBACK = "tests/app/test_feedback.py"
PROGRESS_TEST = f"{FEEDBACK}::test_the_progress_counts_the_whole_job_and_the_time_left"
FAILED_TEST = f"{FEEDBACK}::test_a_failed_generate_leaves_its_message_for_the_note"
PREVIEW_TEST = f"{FEEDBACK}::test_a_ground_truth_the_browser_cannot_play_gets_an_h264_copy"
CANCEL_TEST = "tests/app/test_handlers.py::test_cancel_stops_a_running_generation"

MUTANTS = [
    Mutant("app: the progress restarts at every stage", "portraittalk/ui/jobs.py",
           "self.fraction = max(self.fraction, before + STAGE_SHARES[stage]",
           "self.fraction = (STAGE_SHARES[stage]", (PROGRESS_TEST,)),
    Mutant("app: the time left counts the frames already done", "portraittalk/ui/jobs.py",
           "* (total - done)", "* total", (PROGRESS_TEST,)),
    Mutant("app: a cancel the user asked for is an error", "portraittalk/ui/handlers.py",
           "            if not flag.is_set():  # stopped by the server's time limit: an error\n",
           "            if True:\n", (CANCEL_TEST,)),
    Mutant("app: the note under a failed Generate forgets what went wrong", "portraittalk/ui/handlers.py",
           "            failed(_session(signature.bind_partial(*args, **kwargs).arguments.get(\"request\")), message)\n",
           "            pass\n", (FAILED_TEST,)),
    Mutant("app: a ground truth in any codec is shown as it is", "portraittalk/ui/views.py",
           "    if codec is None or codec.group(1) in PLAYABLE_CODECS:\n", "    if True:\n", (PREVIEW_TEST,)),
    Mutant("app: every ground truth is transcoded", "portraittalk/ui/views.py",
           "    if codec is None or codec.group(1) in PLAYABLE_CODECS:\n", "    if codec is None:\n",
           (PREVIEW_TEST,)),
    Mutant("app: the metrics measure the preview copy, not the upload", "portraittalk/ui/handlers.py",
           "        ground_truth = (previews or {}).get(Path(ground_truth).name, ground_truth)\n", "",
           (f"{FEEDBACK}::test_the_metrics_read_the_uploaded_ground_truth_not_its_preview",)),
]
