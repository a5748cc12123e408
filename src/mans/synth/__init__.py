"""``mans synth``: a procedural NTU RGB+D-format dataset, the project's built-in default data.

Each sample is one *performance* (subject, replication, action) animated once by forward
kinematics of a 25-joint Kinect v2 body and seen by three cameras, so, as in NTU RGB+D, the three
files ``S001C001...``, ``S001C002...``, ``S001C003...`` of a performance show the same motion from
-45, 0 and +45 degrees, each with its own sensor noise. File names follow NTU's
``SsssCcccPpppRrrrAaaa`` so the NTU protocols (cross-subject, cross-view) apply unchanged, and the
actions carry their real NTU-60 ids and names.

The package, in the order the data is made:

1. :mod:`~mans.synth.common`: constants, the seeding rule, rotation and timing helpers (degrees;
   ``v`` is an action's normalised time in [0, 1])
2. :mod:`~mans.synth.body`: the body model: rest pose (``data/synth_body.txt``), per-subject bone
   lengths, joint angles ("DOFs") -> local rotations, forward kinematics
3. :mod:`~mans.synth.actions`: the action library: one small function per NTU action, returning
   joint angles and root motion as functions of ``v``; time-reversed classes reuse their
   partner's function backwards
4. :mod:`~mans.synth.staging`: durations and speed warps, grounding, placing two performers, the
   room and cameras; sensor artefacts: joint noise, inferred joints, empty frames, a spurious
   extra body
5. :mod:`~mans.synth.driver`: :func:`write_synthetic`, which writes each file with
   :func:`mans.formats.ntu.write_skeleton` (official text layout, CRLF line endings)

Determinism: every random draw comes from a :class:`numpy.random.Generator` seeded from
``(seed, tag, ids...)`` of what it describes (a subject's body, a performance, one camera's file),
never from a shared stream, so a file's bytes depend only on ``seed`` and its own name, not on
the number of subjects requested, the file order or the number of worker processes.
"""


from .actions import ACTIONS, Action, Ctx, Motion, Performance
from .body import Body, arm, arms, forward_kinematics, legs, make_body, mirror, pose_rotations
from .common import (MAX_FRAMES, MIN_FRAMES, NTU60_SUBJECTS, SETUP, J, V, rx, ry, rz,
                     xsub_train_subjects)
from .driver import FileJob, record_file, subject_ids, write_file, write_synthetic
from .staging import (CAMERAS, Camera, Recording, Staged, performance_bodies, render_clean,
                      render_performance, sense, stage)

__all__ = ["ACTIONS", "Action", "Body", "CAMERAS", "Camera", "Ctx", "FileJob", "J",
           "MAX_FRAMES", "MIN_FRAMES", "Motion", "NTU60_SUBJECTS", "Performance", "Recording",
           "SETUP", "Staged", "V", "arm", "arms", "forward_kinematics", "legs", "make_body",
           "mirror", "performance_bodies", "pose_rotations", "record_file", "render_clean",
           "render_performance", "rx", "ry", "rz", "sense", "stage", "subject_ids", "write_file",
           "write_synthetic", "xsub_train_subjects"]
