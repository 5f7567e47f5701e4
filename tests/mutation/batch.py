"""Plausible bugs in batch generation: resuming, the per-batch analysis cache, validation, clean-up."""
from __future__ import annotations

from mutation.mutate import Mutant

T = "tests/test_batch.py"
SIX = f"{T}::test_six_jobs_make_four_videos_and_two_failures_with_reasons"
RERUN = f"{T}::test_a_rerun_does_nothing_and_retry_failed_runs_only_the_failures"
SHARED = f"{T}::test_three_jobs_sharing_a_portrait_analyse_it_once"
INTERRUPTED = f"{T}::test_an_interrupted_run_resumes_and_finishes_with_no_corrupt_file"
INVALID = f"{T}::test_invalid_rows_stop_everything_before_anything_starts"
RUNNER = "portraittalk/batch/runner.py"
REFERENCE = f"{T}::test_generate_takes_an_analysed_portrait_as_it_is"

MUTANTS = [
    Mutant("batch: a rerun redoes finished jobs", RUNNER,
           "        return (out_dir / job.output).is_file()\n", "        return False\n", (RERUN,)),
    Mutant("batch: failed jobs rerun without --retry-failed", RUNNER,
           "    return not retry_failed\n", "    return False\n", (RERUN,)),
    Mutant("batch: the analysis cache keyed without the video size", RUNNER,
           "stat.st_size, request.render.size,", "stat.st_size,", (SIX,)),
    Mutant("batch: every job analyses its portraits again", RUNNER,
           "        if key not in self._kept:\n", "        if True:\n", (SHARED,)),
    Mutant("batch: invalid rows run anyway", RUNNER,
           "        if problems and not skip_invalid:\n", "        if False:\n", (INVALID,)),
    Mutant("batch: a job interrupted in its worker is recorded and the batch goes on", RUNNER,
           "                if outcome.status == INTERRUPTED:", "                if False:", (INTERRUPTED,)),
    Mutant("batch: a killed run's partial files stay", RUNNER,
           "        _remove_partial_files(out_dir, runnable)\n", "", (INTERRUPTED,)),
    Mutant("batch: a worker reuses another portrait's analysis", "portraittalk/batch/worker.py",
           "    kept = _references.setdefault(key, reference)\n",
           "    kept = _references.setdefault(0, reference)\n", (SIX,)),
    Mutant("generate analyses an already analysed Reference again", "portraittalk/pipeline.py",
           "    if not isinstance(src, Reference):\n", "    if True:\n", (REFERENCE,)),
    Mutant("generate uses a Reference analysed at another size", "portraittalk/pipeline.py",
           "    if src.size != size:\n", "    if False:\n", (REFERENCE,)),
    Mutant("batch: a torn status line swallows the next record", "portraittalk/batch/status.py",
           '            line = b"\\n" + line\n', "            pass\n",
           (f"{T}::test_a_torn_status_line_is_skipped_and_the_next_record_kept",)),
]
