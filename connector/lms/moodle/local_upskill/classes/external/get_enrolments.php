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

namespace local_upskill\external;

use core_external\external_api;
use core_external\external_function_parameters;
use core_external\external_multiple_structure;
use core_external\external_single_structure;
use core_external\external_value;
use local_upskill\local\reads;

/**
 * Every enrolment of some courses with its status, dates and the learner's identifiers, in one
 * paged read: one row per enrolment (a learner enrolled by two methods has two), ordered by
 * course id, user id, then enrolment.
 *
 * @package    local_upskill
 * @copyright  2026 upskill-connector
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class get_enrolments extends external_api {
    /**
     * The parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'courseids' => new external_multiple_structure(
                new external_value(PARAM_INT, 'Course id'), 'The courses to read'),
            'limitfrom' => new external_value(PARAM_INT, 'Rows to skip', VALUE_DEFAULT, 0),
            'limitnumber' => new external_value(PARAM_INT, 'Rows at most, 1 to ' . reads::MAX_PAGE,
                VALUE_DEFAULT, reads::MAX_PAGE),
        ]);
    }

    /**
     * Read one page.
     *
     * @param int[] $courseids the courses
     * @param int $limitfrom rows to skip
     * @param int $limitnumber rows at most
     * @return array enrolments, hasmore
     */
    public static function execute(array $courseids, int $limitfrom = 0,
            int $limitnumber = reads::MAX_PAGE): array {
        global $DB;
        $params = self::validate_parameters(self::execute_parameters(), [
            'courseids' => $courseids, 'limitfrom' => $limitfrom, 'limitnumber' => $limitnumber,
        ]);
        self::validate_context(\context_system::instance());
        reads::check_page($params['limitfrom'], $params['limitnumber']);
        $courses = reads::courses($params['courseids']);
        if (!$courses) {
            return ['enrolments' => [], 'hasmore' => false];
        }
        [$insql, $inparams] = $DB->get_in_or_equal(array_keys($courses), SQL_PARAMS_NAMED, 'c');
        $sql = "SELECT ue.id, ue.userid, u.idnumber, u.username, u.email, e.courseid, e.enrol,
                       ue.status, e.status AS instancestatus, ue.timestart, ue.timeend
                  FROM {user_enrolments} ue
                  JOIN {enrol} e ON e.id = ue.enrolid
                  JOIN {user} u ON u.id = ue.userid AND u.deleted = 0
                 WHERE e.courseid $insql
              ORDER BY e.courseid, ue.userid, ue.id";
        $now = time();
        $rows = $DB->get_recordset_sql($sql, $inparams, $params['limitfrom'], $params['limitnumber'] + 1);
        $enrolments = [];
        $hasmore = false;
        foreach ($rows as $row) {
            if (count($enrolments) === $params['limitnumber']) {
                $hasmore = true;
                break;
            }
            $enrolments[] = [
                'userid' => (int)$row->userid,
                'idnumber' => (string)$row->idnumber,
                'username' => (string)$row->username,
                'email' => (string)$row->email,
                'courseid' => (int)$row->courseid,
                'method' => (string)$row->enrol,
                'status' => reads::is_active($row, $now) ? 'active' : 'suspended',
                'timestart' => (int)$row->timestart,
                'timeend' => (int)$row->timeend,
            ];
        }
        $rows->close();
        return ['enrolments' => $enrolments, 'hasmore' => $hasmore];
    }

    /**
     * The answer.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'enrolments' => new external_multiple_structure(new external_single_structure([
                'userid' => new external_value(PARAM_INT, 'User id'),
                'idnumber' => new external_value(PARAM_RAW, 'The user\'s idnumber'),
                'username' => new external_value(PARAM_RAW, 'The user\'s username'),
                'email' => new external_value(PARAM_RAW, 'The user\'s e-mail'),
                'courseid' => new external_value(PARAM_INT, 'Course id'),
                'method' => new external_value(PARAM_PLUGIN, 'Enrolment method (manual, cohort, ...)'),
                'status' => new external_value(PARAM_ALPHA,
                    'active, or suspended (suspended, not started, ended or method disabled)'),
                'timestart' => new external_value(PARAM_INT, 'Start of the enrolment; 0: none'),
                'timeend' => new external_value(PARAM_INT, 'End of the enrolment; 0: none'),
            ])),
            'hasmore' => new external_value(PARAM_BOOL, 'Whether a next page (limitfrom + limitnumber) holds more'),
        ]);
    }
}
