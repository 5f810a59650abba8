// Command pforte is the Pforte server and its operator command line:
// serve, migrate, clients, keys, members, letters, devices, audit, version.
//
// Layer: composition root (cmd). Imports: anything in the module and
// third-party code; nothing imports it.
//
// main.go only calls run (cli.go), which tests call in-process. config.go
// reads the configuration (defaults, strict YAML, PFORTE_* variables, flags)
// and validates it before anything listens; clientsfile.go and
// membersfile.go turn the clients and demo members YAML into core types;
// membersimport.go reads the member CSV of `pforte members import`;
// memberscmd.go and letterscmd.go are the operator commands for members and
// letters, operator.go their back ends; devicescmd.go is `pforte devices`
// and `pforte audit` with their back end; run.go wires the adapters.
package main
