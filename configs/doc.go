// Package configs carries Pforte's development configuration inside the
// binary, so that `pforte serve` without a config file works from any
// directory: the demo clients and demo members of configs/dev.
//
// Layer: configuration data. Imports: standard library (embed) only.
//
// The YAML is parsed into core types by cmd/pforte, not here: this package
// holds bytes, no rules. configs/production.example.yaml is documentation
// and is not embedded.
package configs
