"""A public PC's guest account: its sessions, its reset and the privacy wipe behind it.

One module per area of the guest's traces (home, temporary files, processes, scheduled jobs, print
jobs, removable media, network connections); :mod:`agent.pc.reset` runs them in order and
:mod:`agent.pc.scan` proves afterwards that nothing is left.
"""
