package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hashfleet/hashfleet/internal/btc"
)

func newAddressCmd() *cobra.Command {
	var network, keyFile string
	cmd := &cobra.Command{
		Use:   "address",
		Short: "Print a fresh payout address (P2WPKH, bcrt1q… on regtest) for --payout",
		Long: `address makes a new key and prints its P2WPKH address for --network, to use
as the miner server's --payout. With --key-file the private key (WIF) is
written to that file (mode 0600, never printed) so what the address receives
can be spent; without it the key is thrown away.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			params, err := btc.NetworkParams(network)
			if err != nil {
				return err
			}
			addr, wif, err := btc.NewKey(params)
			if err != nil {
				return err
			}
			if keyFile != "" {
				f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return fmt.Errorf("address: --key-file: %w", err)
				}
				_, err = fmt.Fprintln(f, wif)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("address: --key-file: %w", err)
				}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), addr)
			return err
		},
	}
	cmd.Flags().StringVar(&network, "network", "regtest", "mainnet, testnet, testnet4, signet or regtest")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "write the private key (WIF) to this new file, mode 0600")
	return cmd
}
