"""torl on a Ray cluster: one `torl serve` per machine owned by a `TorlNode` actor, synchronous data-parallel GRPO
(the daemons all-reduce over Gloo, formed from the driver's rendezvous store), and evaluation split over the nodes.
The command line is `torl-cluster` (cli.py); the design is docs/CLUSTER.md."""
__version__ = "0.1.0"
