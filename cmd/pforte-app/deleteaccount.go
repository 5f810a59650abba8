package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// deleteWords are the answers that confirm a deletion at the prompt.
var deleteWords = []string{"LÖSCHEN", "DELETE"}

func deleteAccountCommand(e *env) *cobra.Command {
	var p string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete-account",
		Short: "delete the member's account (Konto löschen; POST /app/v1/account/delete)",
		Long: "delete-account deletes the member's account at Pforte: every bound device, the browser\n" +
			"logins (the services get a back-channel logout), the tokens and the consents. The device\n" +
			"key signs a fresh challenge and the release PIN goes with it, as for pforte-app devices.\n" +
			"The insurer's member record stays: while insured, the member can register again.\n\n" +
			"It asks for confirmation: type LÖSCHEN (or DELETE). --yes confirms without asking (for\n" +
			"scripts and tests). On success the device key and the login are removed from the state\n" +
			"file, which remembers when the account was deleted.",
		Example: "  pforte-app delete-account\n  pforte-app delete-account --yes --pin 582946",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, path, exists, err := e.loadState()
			if err != nil {
				return err
			}
			if exists && !st.DeletedAt.IsZero() && st.Device == nil {
				return fmt.Errorf("the account of this app was deleted on %s; there is nothing left to delete / Das Konto dieser App wurde am %s gelöscht",
					st.DeletedAt.Local().Format("2006-01-02 15:04"), st.DeletedAt.Local().Format("02.01.2006 15:04"))
			}
			if _, _, _, err := e.boundDevice(); err != nil {
				return err
			}
			if !yes {
				fmt.Fprintf(e.stdout, "Konto %s wirklich löschen? Geräte, Anmeldungen und Freigaben werden entfernt.\n"+
					"Delete account %s? Devices, logins and consents are removed.\n"+
					"Zum Bestätigen LÖSCHEN eingeben / type DELETE to confirm: ", st.KVNR, st.KVNR)
				line, _ := bufio.NewReader(e.stdin).ReadString('\n')
				if !confirmed(line) {
					return usagef("not confirmed: nothing was deleted / nicht bestätigt: nichts wurde gelöscht")
				}
			}
			var out struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			}
			st, path, err = e.manageAt(cmd, p, "/account/delete", map[string]any{"confirm": true}, http.StatusOK, &out)
			if err != nil {
				return err
			}
			st.Device, st.Session, st.Enrollment = nil, nil, nil
			st.DeletedAt = time.Now().UTC()
			if err := saveState(path, st); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, out.Message)
			return nil
		},
	}
	cmd.Flags().StringVar(&p, "pin", "", "the release PIN (visible in the process list: for tests)")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm without asking")
	return cmd
}

// confirmed reports whether line is one of deleteWords.
func confirmed(line string) bool {
	line = strings.TrimSpace(line)
	for _, w := range deleteWords {
		if strings.EqualFold(line, w) {
			return true
		}
	}
	return false
}
