//go:build !race

package fire

const raceEnabled = false
