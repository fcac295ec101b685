package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// SeedIdentities appends n synthetic identities to the store, for benchmarks and load tests of
// the operators' pages; nothing in the broker calls it. The rows are the same for the same n
// and position, shaped like a busy deployment: five bots from 50% down to 1% of the rows, six
// providers, 97% active, 1% pending and 2% relink_required, about two identities per chat
// user, 8,192 distinct names, unique nicknames and emails. They have no links, no history, no
// avatar (an address would point nowhere), and token fields of filler bytes that no key opens.
//
// It writes batches of 10,000 rows per transaction through one prepared statement, so a
// million rows take seconds rather than the hours CompleteLink would.
func (s *Store) SeedIdentities(ctx context.Context, n int) error {
	const batch = 10_000
	var first int64
	if err := s.writer.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM identities`).Scan(&first); err != nil {
		return fmt.Errorf("sqlite: seed identities: %w", err)
	}
	// Twenty indexes take every row in random order (names, emails): with SQLite's default 2 MB
	// page cache each insert would read and write index pages from disk. The writer is one
	// connection, so a bigger cache for the seeding is set, then put back.
	var cache int64
	if err := s.writer.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return fmt.Errorf("sqlite: seed identities: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, `PRAGMA cache_size = -524288`); err != nil { // 512 MiB
		return fmt.Errorf("sqlite: seed identities: %w", err)
	}
	defer s.writer.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cache))
	filler := []byte(strings.Repeat("\x01sealed-token-filler", 6)) // about a sealed OAuth 2 token
	for done := 0; done < n; {
		m := min(batch, n-done)
		err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			ins, err := tx.PrepareContext(ctx, `INSERT INTO identities (id, bot, channel, user_id, provider,
				provider_user_id, name, nickname, email, avatar_url, status, scopes, access_token, refresh_token,
				token_type, expires_at, linked_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'bearer', ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer ins.Close()
			for k := range m {
				r := seedRow(first + int64(done+k) + 1)
				if _, err := ins.ExecContext(ctx, r.id, r.bot, r.channel, r.user, r.provider, r.providerUserID,
					r.name, r.nickname, r.email, "", r.status, r.scopes, filler, filler,
					r.linkedAt+3_600_000, r.linkedAt, r.linkedAt+60_000); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlite: seed identities: %w", err)
		}
		done += m
	}
	return nil
}

type seededRow struct {
	id                                           int64
	bot, channel, user, provider, providerUserID string
	name, nickname, email, status, scopes        string
	linkedAt                                     int64
}

var (
	seedBots = []struct {
		name    string
		percent uint64
	}{{"supportbot", 50}, {"salesbot", 25}, {"hrbot", 15}, {"devbot", 9}, {"tinybot", 1}}
	seedProviders = []string{"github", "twitter", "google", "slack", "uber", "spotify"}
	seedChannels  = []string{"slack", "telegram", "teams"}
	seedDomains   = []string{"example.com", "mail.example", "corp.example", "users.example"}
	seedFirst     = strings.Fields(`Ada Grace Alan Barbara Donald Edsger Frances John Katherine Linus Margaret Niklaus
		Radia Shafi Tim Whitfield Adele Annie Bjarne Carol Dennis Evelyn Fran Guido Hedy Ivan Jean Ken Leslie Mary
		Nancy Ole Peter Rasmus Sophie Tony Ursula Vint Wendy Xavier Yukihiro Zuse Anita Brian Charles Dana Erich
		Fernando Gordon Hal Irene Joan Kristen Lynn Martha Noam Olga Pat Quentin Rosalind Sandra Teresa Ute Valerie`)
	seedLast = strings.Fields(`Lovelace Hopper Turing Liskov Knuth Dijkstra Allen McCarthy Johnson Torvalds Hamilton
		Wirth Perlman Goldwasser Berners-Lee Diffie Goldberg Easley Stroustrup Kernighan Ritchie Berners Clarke
		Rossum Lamarr Sutherland Bartik Thompson Lamport Keller Lynch Dahl Norvig Lerdorf Wilson Hoare LeGuin Cerf
		Hall Leroy Matsumoto Konrad Borg Kernig Babbage Scott Gamma Corbato Moore Abelson Greif Spark Jones
		Forsythe Estrin Chomsky Shaw Hanrahan Quine Franklin Graham Drake Marx Ibarra Valiant Wu Xu Young Zhang
		Adams Baker Carter Davis Evans Foster Garcia Harris Irving Jackson King Lewis Martin Nelson Owens Parker
		Quinn Roberts Smith Taylor Underwood Vargas Walker Xiong Yates Zimmerman Abbott Bishop Chen Dunn Ellis
		Fischer Grant Hughes Ingram Jensen Klein Lopez Meyer Novak Ortiz Price Reyes Stone Tran Ueda Vega Weber`)
)

// seedRow is row id of the synthetic data. Each attribute comes from its own hash of the id,
// so rows do not line up in runs of one bot or one name (real sign-ups do not) and the
// attributes are independent of each other.
func seedRow(id int64) seededRow {
	user := uint64(id+1) / 2 // about two identities per chat user
	u := mix(user, 1) % (1 << 32)
	first, last := seedFirst[mix(uint64(id), 2)%uint64(len(seedFirst))], seedLast[mix(uint64(id), 3)%uint64(len(seedLast))]
	nick := strings.ToLower(first) + fmt.Sprint(user)
	r := seededRow{
		id:             id,
		channel:        seedChannels[u%uint64(len(seedChannels))],
		user:           fmt.Sprintf("U%08X", u),
		provider:       seedProviders[mix(uint64(id), 4)%uint64(len(seedProviders))],
		providerUserID: fmt.Sprint(id),
		name:           first + " " + last,
		nickname:       nick,
		email:          nick + "@" + seedDomains[mix(uint64(id), 5)%uint64(len(seedDomains))],
		status:         "active",
		scopes:         `["read:user","repo"]`,
		linkedAt:       1_760_000_000_000 + id*30_000,
	}
	pick := mix(uint64(id), 6) % 100
	for _, b := range seedBots {
		if pick < b.percent {
			r.bot = b.name
			break
		}
		pick -= b.percent
	}
	switch s := mix(uint64(id), 7) % 1000; {
	case s < 10:
		r.status = "pending"
	case s < 30:
		r.status = "relink_required"
	}
	return r
}

// mix is SplitMix64's finaliser of x and a salt: a cheap, well-spread hash.
func mix(x, salt uint64) uint64 {
	z := x*0x9e3779b97f4a7c15 + salt*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
