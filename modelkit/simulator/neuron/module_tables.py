"""The inputs and reports only the NEURON backend runs, as ``"module:Factory"`` strings loaded on use.

:class:`~modelkit.simulator.neuron.NeuronBackend` declares them (``input_modules``, ``report_modules``); a run
of another backend never imports them, and a config that names one there is told it is NEURON's.
"""

from __future__ import annotations

__all__ = ["INPUT_MODULES", "REPORT_MODULES"]

_M = "modelkit.simulator.neuron"

#: (input_type, module) -> factory of the inputs: voltage clamps, extracellular stimulation (xstim, COMSOL
#: fields) and spontaneous synaptic activity
INPUT_MODULES: dict[tuple[str, str], str] = {
    **dict.fromkeys([("current_clamp", "SEClamp"), ("voltage_clamp", "SEClamp")],
                    f"{_M}.electrode_modules:SEClampInput"),
    **dict.fromkeys([("lfp", "xstim"), ("xstim", "xstim"), ("extracellular", "xstim")],
                    f"{_M}.electrode_modules:XStimInput"),
    **dict.fromkeys([("lfp", "comsol"), ("comsol", "comsol"), ("extracellular", "comsol")],
                    f"{_M}.comsol:ComsolInput"),
    ("syn_activity", "syn_activity"): f"{_M}.syn_activity:SynActivityInput",
}

#: module -> factory of the reports: membrane reports per segment, synapse and clamp reports, the ECP
REPORT_MODULES: dict[str, str] = {
    "membrane_report": f"{_M}.compartment_reports:membrane_report",
    **dict.fromkeys(["netcon_report", "syn_report"], f"{_M}.compartment_reports:SynapseReport"),
    "clamp_report": f"{_M}.compartment_reports:ClampReport",
    **dict.fromkeys(["extracellular", "ecp"], f"{_M}.electrode_modules:EcpReport"),
}
