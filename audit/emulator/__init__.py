"""The built-in Smallest AI Waves emulator: the API of docs/api-contract.md, served over real HTTP.

`EmulatorConfig` (in `knobs`) sets the account's behaviour (key, TTS concurrency, faults,
latency, clone lifecycle, delete mode; hostile answers as `Fault` knobs, whose bodies live in
`faults`), `EmulatorState` holds its clones and request log and runs on a `Clock` (`clock`:
`SystemClock` by default, or a `ManualClock` a test advances instead of sleeping), `create_app`
turns a state into a Starlette app, `EmulatorServer` serves it on 127.0.0.1 in a background
thread (`serve_forever` in the foreground), and `generate_org` makes a seeded organisation
of clones together with the verdicts a correct scan must reach; `generate_archive` writes
the matching archive of original recordings for its legacy voices. The state keeps a
log of TTS calls (`TtsLogRecord`: real calls, plus a `generate_traffic` history when
`EmulatorConfig.traffic_days` is set), served by the analytics route. The account's Atoms voice
agents (`state.agents`, an `agentbook.AgentBook` seeded by `agentseed.generate_agents` from the
clones) are served under `/atoms/v1` by `atoms`: pages of agents, branches, drafts with
optimistic concurrency, publish with its security scan, revisions and restore.

May import: `audit.core` (for the verdict names of its ground truth) and its own modules;
nothing else of `audit`, so the tool under test and its emulator stay independent.
"""

from audit.emulator.app import create_app
from audit.emulator.clock import Clock, ManualClock, SystemClock
from audit.emulator.knobs import EmulatorConfig, Fault
from audit.emulator.org import Org, generate_org
from audit.emulator.recordings import ArchiveTruth, generate_archive
from audit.emulator.server import EmulatorServer, serve_forever
from audit.emulator.state import CloneRecord, EmulatorState, LogEntry
from audit.emulator.traffic import TtsLogRecord, generate_traffic

__all__ = [
    "ArchiveTruth",
    "Clock",
    "CloneRecord",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "Fault",
    "LogEntry",
    "ManualClock",
    "Org",
    "create_app",
    "generate_archive",
    "generate_org",
    "generate_traffic",
    "serve_forever",
    "SystemClock",
    "TtsLogRecord",
]
