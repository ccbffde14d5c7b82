package cmessages

import "testing"

func TestFix(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		wantOK bool
	}{
		{"C.UTF-8 in LANG", map[string]string{"LANG": "C.UTF-8"}, true},
		{"POSIX.utf8 in LC_MESSAGES", map[string]string{"LC_MESSAGES": "POSIX.utf8", "LANG": "de_DE.UTF-8"}, true},
		{"plain C needs nothing", map[string]string{"LANG": "C"}, false},
		{"a real language", map[string]string{"LANG": "fr_FR.UTF-8"}, false},
		{"LC_MESSAGES decides over LANG", map[string]string{"LC_MESSAGES": "en_GB.UTF-8", "LANG": "C.UTF-8"}, false},
		{"LC_ALL set: left alone", map[string]string{"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}, false},
		{"LANGUAGE set: left alone", map[string]string{"LANGUAGE": "en", "LANG": "C.UTF-8"}, false},
		{"nothing set", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, v, ok := fix(func(k string) string { return tc.env[k] })
			if ok != tc.wantOK || ok && (k != "LC_MESSAGES" || v != "C") {
				t.Errorf("fix = %q=%q, %v; want change %v", k, v, ok, tc.wantOK)
			}
		})
	}
}
