package api

import (
	"strings"
	"testing"
)

func TestIsStoredName(t *testing.T) {
	hex32 := strings.Repeat("0a", 16)
	cases := []struct {
		name string
		want bool
	}{
		{hex32 + ".jpg", true},
		{hex32 + ".png", true},
		{hex32 + ".gif", true},
		{hex32 + ".jpeg", false},
		{hex32 + ".JPG", false},
		{strings.ToUpper(hex32) + ".jpg", false},
		{hex32[:31] + "g.jpg", false},
		{hex32[:31] + ".jpg", false},
		{hex32 + "-64.jpg", false},
		{"../" + hex32[3:] + ".jpg", false},
		{hex32 + ".jp\x00", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := isStoredName(tc.name); got != tc.want {
			t.Errorf("isStoredName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
