// What an operator meets before any function runs: scripts/setup's Python tools and the
// Makefile's refusal of a host it cannot build on.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_support.h"

namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// scripts/setup --python-only with its own pins and venv folder; PyPI is never reached quickly
// (PIP_RETRIES=0), whether or not the machine has a network.
tests::CommandResult setup_python(const fs::path& requirements, const fs::path& venv) {
  return tests::run_command(
      "(cd " + tests::source_path("").string() +
      " && PIP_RETRIES=0 PIP_TIMEOUT=5 PYTHON_REQUIREMENTS=" + requirements.string() +
      " PYTHON_VENV=" + venv.string() + " scripts/setup --python-only 2>&1)");
}

TEST(Setup, PinsTheSystemAlreadyHoldsNeedNoVenvAndNoNetwork) {
  tests::TempDir dir;
  const auto requirements = dir.path() / "requirements.txt";
  // The real pins: CI's machine has them all, as the README says a workplace machine does.
  fs::copy_file(tests::source_path("tools/requirements.txt"), requirements);
  const auto venv = dir.path() / "venv";
  fs::create_directories(venv / "bin");  // a stale venv, which would shadow the system's tools
  const auto run = setup_python(requirements, venv);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(run.out.find("making"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(venv)) << "the stale venv is gone: " << run.out;
}

TEST(Setup, AMissingPinnedToolMakesAVenvAndNamesWhatPipCouldNotInstall) {
  tests::TempDir dir;
  const auto requirements = dir.path() / "requirements.txt";
  write_file(requirements, "PyYAML==6.0.3\nno-such-tool-s3-log-aggregator==1.0\n");
  const auto venv = dir.path() / "venv";
  const auto run = setup_python(requirements, venv);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("setup:   no-such-tool-s3-log-aggregator==1.0 is not installed"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("pip could not install"), std::string::npos) << run.out;
  std::ifstream config(venv / "pyvenv.cfg");
  const std::string text{std::istreambuf_iterator<char>(config), {}};
  EXPECT_NE(text.find("include-system-site-packages = true"), std::string::npos)
      << "pins the system holds are taken from it, not downloaded: " << text;
}

TEST(Setup, APinAtAnotherVersionIsNamedWithBothVersions) {
  tests::TempDir dir;
  const auto requirements = dir.path() / "requirements.txt";
  write_file(requirements, "moto[server]==0.0.1\n");
  const auto check = tests::run_command(tests::source_path("tools/python-requirements").string() +
                                        " --requirements " + requirements.string());
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.out.find("moto 5.2.1 is installed, 0.0.1 is pinned"), std::string::npos)
      << check.out;
}

// make on a host that cannot build stops before any compiler runs, and says what to do instead.
tests::CommandResult make_static(const std::string& environment) {
  return tests::run_command("(cd " + tests::source_path("").string() + " && env " + environment +
                            " make --no-print-directory static 2>&1)");
}

TEST(BuildHost, MacOsStopsAtOnceNamingTheBuildImage) {
  const auto run = make_static("UNAME_S=Darwin");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.out.find("cannot build the Lambda bootstraps on Darwin"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("sam build --use-container --build-image s3-log-aggregator-build"),
            std::string::npos)
      << run.out;
  EXPECT_EQ(run.out.find("build-static"), std::string::npos) << "nothing was built: " << run.out;
}

TEST(BuildHost, AnotherLinuxStopsAtOnceNamingItself) {
  tests::TempDir dir;
  write_file(dir.path() / "os-release", "ID=fedora\nVERSION_ID=40\n");
  const auto run = make_static("OS_RELEASE=" + (dir.path() / "os-release").string());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.out.find("this host is fedora 40, not Debian 12"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("build-static"), std::string::npos) << run.out;
  write_file(dir.path() / "os-release", "ID=debian\nVERSION_ID=12\n");
  const auto check = tests::run_command(tests::source_path("scripts/check-build-host").string() +
                                        " " + (dir.path() / "os-release").string());
  EXPECT_EQ(check.exit_code, 0) << "Debian 12 (this machine) builds: " << check.err;
}

// The build image runs `scripts/setup --system-only`: Debian's packages and nothing of npm's or
// Python's (here every package is installed, so it changes nothing).
TEST(BuildHost, SetupForTheBuildImageInstallsOnlyDebiansPackages) {
  std::ifstream dockerfile(tests::source_path("build-image/Dockerfile"));
  const std::string text{std::istreambuf_iterator<char>(dockerfile), {}};
  ASSERT_NE(text.find("FROM debian:12"), std::string::npos);
  ASSERT_NE(text.find("scripts/setup --system-only"), std::string::npos);
  const auto run =
      tests::run_command("(cd " + tests::source_path("").string() +
                         " && PYTHON_VENV=/nonexistent/venv PYTHON_REQUIREMENTS="
                         "/nonexistent/requirements.txt scripts/setup --system-only 2>&1)");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(run.out.find("npm"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("requirements"), std::string::npos) << run.out;
}

}  // namespace
