"""The SONATA model core: nodes, edges, node sets, configs, spikes and reports.

Imports numpy, h5py, pandas and jsonschema only: no simulator, widget or plotting library.
"""

from modelkit.sonata.config import CircuitConfig, SimulationConfig, load_config
from modelkit.sonata.edges import EdgePopulation, EdgePopulationData, write_edges
from modelkit.sonata.groups import GroupData
from modelkit.sonata.morphology import Morphology, read_morphology
from modelkit.sonata.network import Network
from modelkit.sonata.node_sets import NodeSets
from modelkit.sonata.nodes import NodePopulation, NodePopulationData, write_nodes
from modelkit.sonata.reports import (CompartmentReport, EcpReport, ReportWriter, read_ecp, write_compartment_report,
                                     write_ecp)
from modelkit.sonata.selection import Selection
from modelkit.sonata.spikes import SpikePopulation, read_spikes, spikes_stop_time, write_spikes, write_spikes_csv
from modelkit.sonata.type_params import type_params
from modelkit.sonata.types_table import TypesTable, read_types_csv, write_types_csv
from modelkit.sonata.validate import Problem, validate

__all__ = [
    "CircuitConfig", "SimulationConfig", "load_config",
    "EdgePopulation", "EdgePopulationData", "write_edges",
    "GroupData", "Network", "NodeSets", "Morphology", "read_morphology",
    "NodePopulation", "NodePopulationData", "write_nodes",
    "CompartmentReport", "EcpReport", "ReportWriter", "read_ecp", "write_compartment_report", "write_ecp",
    "Selection", "SpikePopulation", "read_spikes", "write_spikes", "write_spikes_csv", "spikes_stop_time",
    "TypesTable", "read_types_csv", "write_types_csv", "type_params",
    "Problem", "validate",
]
