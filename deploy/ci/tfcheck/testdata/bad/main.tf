# Faults tfcheck must find (main_test.go lists them).
terraform {
  required_providers {
    google = {
      source = "hashicorp/google"
    }
  }
}

variable "region" {
  description = "Declared, typed, never used."
  type        = string
}

variable "untyped" {}

resource "google_storage_bucket" "log" {
  name     = "${var.projct}-log"
  location = google_spanner_instance.missing.config
  lifecycle {
    ignore_changes = [labels]
  }
  depends_on = [local.nothing]
}

resource "aws_s3_bucket" "other" {
  bucket   =  var.untyped
}
