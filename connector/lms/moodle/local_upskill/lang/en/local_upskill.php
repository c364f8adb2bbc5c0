<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

/**
 * English strings of local_upskill.
 *
 * @package    local_upskill
 * @copyright  2026 upskill-connector
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$string['pluginname'] = 'Upskill connector';
$string['privacy:metadata'] = 'The Upskill connector plugin stores no personal data: it reads '
    . 'enrolments and course completion for the connector\'s web-service user.';
$string['rolename'] = 'Upskill connector';
$string['roledescription'] = 'The upskill connector\'s web-service user: create and update '
    . 'accounts, enrol and suspend learners, read enrolments and course completion. Assign it '
    . 'in the system context.';
$string['limitnumbertoolarge'] = 'A page holds 1 to {$a->max} rows; {$a->given} were asked for.';
$string['limitfrominvalid'] = 'limitfrom must be 0 or more; {$a} was given.';
$string['sinceinfuture'] = 'since ({$a->since}) is in the future (the site\'s time is {$a->now}).';
$string['unknowncourses'] = 'No course with the id(s) {$a} on this site.';
$string['upskill:read'] = 'Read enrolments and course completion of courses in bulk (upskill connector)';
