"""Write generated files into the output directory, touching only what meshgen owns.

The package, one step per module: `model` (what is read and written, the paths meshgen may
own), `manifest`, `lock`, `planning` (the one reader of the output), `fs` (the file-system
steps), `apply` (the transaction) and `compare` (--check, --diff, single files).

One writer at a time: an advisory lock (flock) on the output directory itself is held from
planning to the last rename; a second build waits briefly, then fails naming the holder.
Files are replaced one by one in place (a temporary file in the same directory, then a
rename): no directory and no file meshgen does not own is ever re-created, moved or copied,
so the user's files, directories, modes, owners, mount points and files created during a build
stay exactly as they are. Symlinks are never followed and mount points never crossed.

MANIFEST_NAME records what meshgen wrote (path and sha256). An owned file whose content no
longer matches its recorded hash was changed by hand: meshgen refuses to overwrite or prune
it without `force`. Before the first file changes, the manifest is rewritten as a journal
(state `in-progress`, with the hashes about to be written); a build killed at any moment
leaves files that match either hash, so the next run recognises them as its own and
converges, and `--check` never calls such a tree fresh.
"""

from __future__ import annotations

from meshgen.write.apply import (
    write_output as write_output,
)
from meshgen.write.compare import (
    check_output as check_output,
)
from meshgen.write.compare import (
    diff_chunks as diff_chunks,
)
from meshgen.write.compare import (
    diff_output as diff_output,
)
from meshgen.write.compare import (
    manifest_identity as manifest_identity,
)
from meshgen.write.compare import (
    write_single_file as write_single_file,
)
from meshgen.write.lock import (
    LockWaitError as LockWaitError,
)
from meshgen.write.lock import (
    lock_wait_seconds as lock_wait_seconds,
)
from meshgen.write.manifest import (
    read_manifest as read_manifest,
)
from meshgen.write.model import (
    FILE_MAX_BYTES as FILE_MAX_BYTES,
)
from meshgen.write.model import (
    HAND_EDITED as HAND_EDITED,
)
from meshgen.write.model import (
    LOCK_WAIT_DEFAULT as LOCK_WAIT_DEFAULT,
)
from meshgen.write.model import (
    MANIFEST_MAX_BYTES as MANIFEST_MAX_BYTES,
)
from meshgen.write.model import (
    MANIFEST_MAX_VALUES as MANIFEST_MAX_VALUES,
)
from meshgen.write.model import (
    MANIFEST_NAME as MANIFEST_NAME,
)
from meshgen.write.model import (
    MOUNT_POINT as MOUNT_POINT,
)
from meshgen.write.model import (
    NOT_OWNED as NOT_OWNED,
)
from meshgen.write.model import (
    TEMP_PREFIX as TEMP_PREFIX,
)
from meshgen.write.model import (
    Drift as Drift,
)
from meshgen.write.model import (
    OutputConflict as OutputConflict,
)
from meshgen.write.model import (
    WritePlan as WritePlan,
)
from meshgen.write.model import (
    could_generate as could_generate,
)
from meshgen.write.planning import (
    plan_write as plan_write,
)
from meshgen.write.planning import (
    read_output as read_output,
)
