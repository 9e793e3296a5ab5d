/**
 * @parley/relay-cluster: several Parley relay nodes on one PostgreSQL. A room is served by the node holding
 * its PostgreSQL lease (whose fence is the storage fence); Redis carries heartbeats and a room → owner cache;
 * a node pipes a connection for a room another node serves to that node. The relay CLI loads this package
 * when its config has `cluster`; see "Operating several nodes" in the relay README.
 */
export { type ClusterOptions, createCluster } from "./cluster.js";
export { PEER_HEADER } from "./peer-address.js";
