package configs

import _ "embed"

// DevClients is configs/dev/clients.yaml: one demo client of every kind.
// It is loaded only when the server runs in development and no
// clients_file is configured.
//
//go:embed dev/clients.yaml
var DevClients []byte

// DevMembers is configs/dev/members.yaml: demo members with known
// passwords. It is loaded only in development.
//
//go:embed dev/members.yaml
var DevMembers []byte
