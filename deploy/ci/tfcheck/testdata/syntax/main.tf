# An unclosed block (main_test.go).
resource "x" "y" {
