"""AWS Skill Builder as an enrollment target, through files (shared/reference/skillbuilder.md).

Skill Builder publishes no enrollment or progress API: an organisation administrator adds
learners and assigns courses and learning plans by uploading CSV files in its console, and
downloads progress reports as CSV. So this target speaks files:

- :mod:`.target`: the :class:`~connector.lms.LmsTarget` the executor applies the plan to. It
  writes nothing itself: an account "created" or an enrollment "applied" means *desired and to
  be requested*; the state database records it as applied so the planner does not plan it
  again.
- :mod:`.outbox`: after the apply, every applied Skill Builder enrollment not yet in a batch is
  written into one upload batch per run (learners file, assignments file, manifest, named with
  the run id and a content hash), optionally copied to a drop folder; the enrollments removed
  by the plan go to the remove-by-hand list (no upload file removes anything).
- :mod:`.reportfile` and :mod:`.importer`: progress reports, imported by
  ``upskill skillbuilder import`` or from the inbox folder by each sync, confirm requests and
  become completion records in the one-record-per-(person, course) store.

Lifecycle of one (person, item), see :mod:`.lifecycle`: desired → requested (in a written
batch) → confirmed (listed by an imported report); stuck when requested and unconfirmed past
``targets.skillbuilder.stuck_after_days``. A requested enrollment is never counted as enrolled.

Where the Moodle target protocol does not fit: ``course_ids`` cannot check the catalogue (no
API; an item id is its own id), ``suspend``/``unenroll`` only list the enrollment to remove by
hand, ``completions`` reads nothing (reports are imported instead), and there is no
reconciliation (no way to read the console's enrollments but a report).
"""

SKILLBUILDER = "skillbuilder"
REPORT_SOURCE = "skillbuilder-report"  # the source of the completions reports give
