"""A public PC's guest account: its sessions, its reset and the privacy wipe behind it.

One module per area of the guest's traces (home, temporary files, processes, scheduled jobs, print
jobs, removable media, network connections); :mod:`agent.pc.reset` runs them in order and
:mod:`agent.pc.scan` proves afterwards that nothing is left. Beside them, what the PC reports and
shows: its printers' states (:mod:`agent.pc.printers`) and, when a technician takes it out of
service, the notice on its login screen (:mod:`agent.pc.greeter`).
"""
