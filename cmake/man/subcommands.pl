#!/usr/bin/perl
# Writes a help2man include file (section COMMANDS) from the --help of every
# subcommand of a CLI11 program, recursively: `PROGRAM SUB --help`,
# `PROGRAM SUB SUBSUB --help`, ... so the man page shows what `--help` shows.
#   perl subcommands.pl PROGRAM > commands.h2m
# PROGRAM is run as given (put its folder first in PATH to have its bare name
# in the "Usage:" lines).
use strict;
use warnings;

my $program = shift @ARGV or die "usage: $0 PROGRAM\n";

sub help_of {
    my @words = @_;
    open(my $fh, '-|', $program, @words, '--help') or return undef;
    local $/;
    my $text = <$fh>;
    close($fh);
    return $? == 0 ? $text : undef;
}

# roff-escape text; $opt: an option name (hyphens are minus signs there).
sub esc {
    my ($s, $opt) = @_;
    $s =~ s/\\/\\e/g;
    $s =~ s/-/\\-/g if $opt;
    $s =~ s/^([.'])/\\&$1/;
    return $s;
}

# Parses CLI11's help: description, usage, sections of entries, free text.
sub parse {
    my ($text) = @_;
    my %h = (description => [], usage => '', sections => [], trailer => []);
    my $section;
    my $blank = 0;
    for my $line (split /\n/, $text) {
        if ($line =~ /^\s*$/) { $blank = 1; next; }
        if ($line =~ /^Usage: (.*)$/) { $h{usage} = $1; $blank = 0; next; }
        if ($line =~ /^(\w[\w ]*):$/) {
            $section = { name => $1, entries => [] };
            push @{ $h{sections} }, $section;
            $blank = 0;
            next;
        }
        if ($section && !$blank && $line =~ /^ {20,}(\S.*)$/ && @{ $section->{entries} }) {
            my $e = $section->{entries}[-1];
            $e->{text} .= ($e->{text} eq '' ? '' : ' ') . $1;
            next;
        }
        if ($section && !$blank && $line =~ /^  (\S.*?)(?: {2,}(\S.*))?$/) {
            push @{ $section->{entries} }, { name => $1, text => $2 // '' };
            next;
        }
        if (!$h{usage} && !@{ $h{sections} }) { push @{ $h{description} }, $line; }
        else { push @{ $h{trailer} }, $line; $section = undef; }
        $blank = 0;
    }
    return \%h;
}

my $out = "[COMMANDS]\n";
$out .= "Each command has options of its own, shown by\n.B $program\n.I COMMAND\n.BR \\-\\-help .\n";
my $count = 0;

sub emit {
    my @path = @_;
    my $text = help_of(@path);
    return unless defined $text;
    my $h = parse($text);
    my $words = join(' ', @path);
    if (@path) {
        $count++;
        $out .= ".SS \"" . esc("$program $words") . "\"\n";
        $out .= esc(join(' ', @{ $h->{description} })) . "\n" if @{ $h->{description} };
        if ($h->{usage} ne '') {
            my $usage = $h->{usage};
            $usage =~ s/^\S+//;    # the program's path as run
            $out .= ".PP\n.B " . esc("$program$usage", 1) . "\n";
        }
    }
    my @subs;
    for my $s (@{ $h->{sections} }) {
        my @entries = grep { $_->{name} !~ /^-h,--help$/ } @{ $s->{entries} };
        if ($s->{name} eq 'Subcommands') {
            push @subs, map { (split ' ', $_->{name})[0] } @entries;
            next;
        }
        next unless @path && @entries;
        $out .= ".PP\n" . esc($s->{name}) . ":\n";
        for my $e (@entries) {
            my ($flag, $arg) = $e->{name} =~ /^(\S+)(?:\s+(.*))?$/;
            $out .= ".TP\n\\fB" . esc($flag, 1) . "\\fR";
            $out .= " \\fI" . esc($arg) . "\\fR" if defined $arg && $arg ne '';
            $out .= "\n" . ($e->{text} eq '' ? '' : esc($e->{text}) . "\n");
        }
    }
    if (@path && @{ $h->{trailer} }) {
        $out .= ".PP\n" . join('', map { esc($_) . "\n.br\n" } @{ $h->{trailer} });
    }
    emit(@path, $_) for @subs;
}

emit();
die "$0: no subcommand of $program answered --help\n" unless $count;
print $out;
