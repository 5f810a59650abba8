package main

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
)

// Confirming a browser login, as the Service-App does it (package
// appclient):
//
//	approvals  POST /app/v1/devices/{id}/challenge, then GET /app/v1/approvals
//	           with the key's answer                       ("Anmeldungen bestätigen")
//	approve    the same list, then POST /app/v1/approvals/{id}/challenge and
//	           POST /app/v1/approvals/{id} with the number, the key's answer and
//	           the PIN — or the denial                      ("Das war ich nicht")

// approvalDevice returns the bound device as appclient uses it, and a
// client of its issuer.
func (e *env) approvalDevice(ctx context.Context) (appclient.Device, *appclient.Client, error) {
	st, path, api, err := e.boundDevice()
	if err != nil {
		return appclient.Device{}, nil, err
	}
	if !st.Device.PINSet {
		return appclient.Device{}, nil, fmt.Errorf("device %s has no release PIN yet: set it with pforte-app set-pin", st.Device.BindingID)
	}
	c, err := e.client(ctx, api, defaultClientID, defaultRedirectURI, "")
	if err != nil {
		return appclient.Device{}, nil, err
	}
	return appclient.Device{
		BindingID: st.Device.BindingID, Key: st.Device.Key, Origin: st.Device.Origin,
		Signed: func() error { return saveState(path, st) },
	}, c, nil
}

func (e *env) printApprovals(as []appclient.Approval) {
	if len(as) == 0 {
		fmt.Fprintln(e.stdout, "Keine Anmeldung wartet auf Ihre Bestätigung. / No login is waiting for your confirmation.")
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVICE\tBROWSER\tSTARTED\tNUMBERS")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d  %d  %d\n", a.ID, a.ClientName, a.Browser, clockTime(a.CreatedAt),
			a.Choices[0], a.Choices[1], a.Choices[2])
	}
	tw.Flush()
}

func approvalsCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "approvals",
		Short: "list the browser logins waiting for your confirmation (Anmeldungen bestätigen)",
		Long: "approvals lists the browser logins of this device's member that wait for a decision in\n" +
			"the app: the service, the browser, when it started, and the three numbers to choose\n" +
			"from. The device key answers a challenge (POST /app/v1/devices/{id}/challenge) and the\n" +
			"answer goes with GET /app/v1/approvals; no PIN is needed to read the list.",
		Example: "  pforte-app approvals",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, c, err := e.approvalDevice(cmd.Context())
			if err != nil {
				return err
			}
			as, err := c.Approvals(cmd.Context(), d)
			if err != nil {
				return err
			}
			e.printApprovals(as)
			return nil
		},
	}
}

func approveCommand(e *env) *cobra.Command {
	var number int
	var deny bool
	var id, p string
	cmd := &cobra.Command{
		Use:   "approve",
		Short: "confirm a browser login with the number it shows, or deny it (Das war ich nicht)",
		Long: "approve decides the browser login waiting for this device's member (the newest, or\n" +
			"--id): it prints the three numbers, takes the one the browser shows (--number, or\n" +
			"asked for on the terminal), and confirms the login with the device key and the release\n" +
			"PIN. A number the browser does not show refuses the login. --deny refuses it\n" +
			"(\"Das war ich nicht\"): the browser's login fails and you are told by e-mail.\n\n" +
			"A wrong PIN counts as in every other use of the device.",
		Example: "  pforte-app approve\n  pforte-app approve --number 47\n  pforte-app approve --deny",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p != "" {
				if err := checkPINFormat("--pin", p); err != nil {
					return err
				}
			}
			if deny && number != 0 {
				return usagef("--deny and --number exclude each other")
			}
			ctx := cmd.Context()
			d, c, err := e.approvalDevice(ctx)
			if err != nil {
				return err
			}
			as, err := c.Approvals(ctx, d)
			if err != nil {
				return err
			}
			e.printApprovals(as)
			if len(as) == 0 {
				return fmt.Errorf("nothing to approve: start the login in the browser first")
			}
			a := as[len(as)-1]
			if id != "" {
				i := slices.IndexFunc(as, func(x appclient.Approval) bool { return x.ID == id })
				if i < 0 {
					return fmt.Errorf("no approval %s is waiting", id)
				}
				a = as[i]
			}
			fmt.Fprintf(e.stdout, "Anmeldung bei %s (%s). Welche Zahl zeigt der Browser? / Login to %s (%s). Which number does the browser show?\n  %d   %d   %d\n",
				a.ClientName, a.Browser, a.ClientName, a.Browser, a.Choices[0], a.Choices[1], a.Choices[2])
			if !deny && number == 0 {
				if number, err = e.askNumber(); err != nil {
					return err
				}
			}
			if p, err = e.currentPIN(p); err != nil {
				return err
			}
			var dec appclient.Decision
			if deny {
				dec, err = c.Deny(ctx, d, a.ID, p)
			} else {
				dec, err = c.Approve(ctx, d, a.ID, number, p)
			}
			if err != nil {
				return err
			}
			switch {
			case dec.Status == "approved":
				fmt.Fprintln(e.stdout, "Bestätigt. Der Browser setzt die Anmeldung fort. / Approved. The browser continues the login.")
			case dec.Reason == "wrong_number":
				fmt.Fprintln(e.stdout, "Abgelehnt: Diese Zahl zeigt der Browser nicht. / Refused: the browser does not show this number.")
			default:
				fmt.Fprintln(e.stdout, "Abgelehnt. Die Anmeldung im Browser schlägt fehl. / Denied. The browser's login fails.")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&number, "number", 0, "the number the browser shows")
	fl.BoolVar(&deny, "deny", false, "refuse the login (Das war ich nicht)")
	fl.StringVar(&id, "id", "", "the approval to decide (default: the newest)")
	fl.StringVar(&p, "pin", "", "the release PIN (visible in the process list: for tests)")
	return cmd
}

// askNumber reads the chosen number from stdin.
func (e *env) askNumber() (int, error) {
	if e.stdin == nil {
		return 0, usagef("give --number or --deny")
	}
	fmt.Fprint(e.stdout, "Zahl / Number: ")
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	n, perr := strconv.Atoi(strings.TrimSpace(line))
	if perr != nil || n < 10 || n > 99 {
		if err != nil {
			return 0, usagef("give --number or --deny")
		}
		return 0, usagef("the number has two digits / Die Zahl hat zwei Ziffern")
	}
	return n, nil
}
